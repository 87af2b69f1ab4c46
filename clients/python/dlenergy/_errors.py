"""The library's error codes (dlenergy/error.h) as Python exceptions."""


class Error(Exception):
    """An error from libdlenergy; str() is the library's message, .code its DLE_E* code."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code


class ConfigError(Error, ValueError):
    """A bad option or argument (DLE_EINVAL, DLE_ERANGE)."""


class NotFoundError(Error, LookupError):
    """A run, file, country or key that does not exist (DLE_ENOTFOUND)."""


class StoreError(Error):
    """The run store failed (DLE_EDB)."""


class StateError(Error):
    """A call out of order, e.g. ending a window that is not open (DLE_ESTATE)."""


class UnsupportedError(Error):
    """A sensor or feature not available here (DLE_EUNSUPPORTED)."""


_BY_CODE = {-1: ConfigError, -9: ConfigError, -5: NotFoundError, -7: StoreError,
            -8: StateError, -6: UnsupportedError}


def from_code(code, message):
    return _BY_CODE.get(code, Error)(message, code)
