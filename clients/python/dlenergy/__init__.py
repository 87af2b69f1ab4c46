"""dlenergy: record the energy of a training from inside Python (a script or a notebook).

    import dlenergy
    with dlenergy.track(db="runs.db", country="ES", meta={"architecture": "resnet18"}) as run:
        for epoch in range(1, 4):
            run.epoch_begin(epoch)
            ...
            run.epoch_end(epoch, loss=0.4)
        with run.window("validation"):
            ...
    print(run.summary["total_energy_j"])

The sampler runs in this process on its own threads (libdlenergy through ctypes);
the calling process and its children are the monitored tree; the run goes to the
same store, with the same schema and figures, as `dlenergy run`. Reading back:
dlenergy.runs(db), dlenergy.samples(db, run_id) (pandas DataFrames when pandas is
importable), dlenergy.estimate(run_id, method=..., db=...), dlenergy.predict(...).

Importing this package loads neither the library nor pandas/numpy: both are loaded
on first use. Library errors are dlenergy.Error (and subclasses) with the library's
message. A failing sensor or store never raises into the training: it is reported in
the summary (and once as a warning).
"""
from ._errors import (ConfigError, Error, NotFoundError, StateError, StoreError,
                      UnsupportedError)
from ._track import Run, Window, active_run, track, _marker_line  # noqa: F401
from ._read import estimate, predict, run, runs, samples

__all__ = ["track", "Run", "Window", "active_run", "runs", "run", "samples", "estimate",
           "predict", "Error", "ConfigError", "NotFoundError", "StoreError", "StateError",
           "UnsupportedError"]
__version__ = "0.1.0"
