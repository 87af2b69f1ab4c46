# Helpers that keep module and test CMakeLists.txt files to a few lines.
#
# dle_module(NAME name SOURCES a.c b.c [DEPS other_module ...] [PKGS pkgconfig-name ...]
#            [DLOPEN_PKGS pkgconfig-name ...] [LIBS raw-lib ...])
#   builds static library dle_<name> (PIC) and adds it to libdlenergy.
#   DLOPEN_PKGS: libraries the module loads with dlopen on first use (libpq, libmicrohttpd;
#   see docs/architecture.md "Optional libraries"): their headers only, never linked.
#
# dle_test(NAME name SOURCES t.c [LIBS dle_x ...] [LABELS ...] [ENV K=V ...] [ARGS ...])
#   builds a test executable and registers it with CTest. Exit code 77 = skipped.
#
# dle_script_test(NAME name COMMAND ... [LABELS ...] [ENV K=V ...])
#   registers a script (Python, shell) test; DLENERGY_BIN, DLE_SHARED_DIR, DLE_BUILD_DIR
#   and DLE_SOURCE_DIR are in its environment.

set_property(GLOBAL PROPERTY DLE_MODULES "")

function(dle_module)
  cmake_parse_arguments(M "" "NAME" "SOURCES;DEPS;PKGS;DLOPEN_PKGS;LIBS" ${ARGN})
  set(_t dle_${M_NAME})
  # Sources still being written are left out with a warning instead of failing the
  # whole configure (several people work in one tree); their symbols then fail to link
  # only where they are used.
  set(_srcs "")
  foreach(_s IN LISTS M_SOURCES)
    if(IS_ABSOLUTE "${_s}" OR EXISTS "${CMAKE_CURRENT_SOURCE_DIR}/${_s}")
      list(APPEND _srcs "${_s}")
    else()
      message(WARNING "module ${M_NAME}: ${_s} missing; left out of the build")
    endif()
  endforeach()
  if(NOT _srcs)
    set(_srcs "${CMAKE_SOURCE_DIR}/src/cli/empty.c")
  endif()
  set(M_SOURCES ${_srcs})
  add_library(${_t} STATIC ${M_SOURCES})
  set_target_properties(${_t} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  target_include_directories(${_t} PUBLIC "${CMAKE_SOURCE_DIR}/include"
                                   PRIVATE "${CMAKE_SOURCE_DIR}/src" "${CMAKE_CURRENT_SOURCE_DIR}")
  target_compile_definitions(${_t} PRIVATE DLE_BUILDING_LIBRARY
                             DLE_DATA_DIR_BUILD="${CMAKE_SOURCE_DIR}/data"
                             DLE_DATA_DIR_INSTALL="${CMAKE_INSTALL_FULL_DATADIR}/dlenergy")
  foreach(_d IN LISTS M_DEPS)
    target_link_libraries(${_t} PUBLIC dle_${_d})
  endforeach()
  foreach(_p IN LISTS M_PKGS)
    string(MAKE_C_IDENTIFIER "${_p}" _pid)
    if(NOT TARGET PkgConfig::${_pid})
      pkg_check_modules(${_pid} REQUIRED IMPORTED_TARGET GLOBAL ${_p})
    endif()
    target_link_libraries(${_t} PUBLIC PkgConfig::${_pid})
    set_property(GLOBAL APPEND PROPERTY DLE_EXTERNAL_LIBS PkgConfig::${_pid})
  endforeach()
  foreach(_p IN LISTS M_DLOPEN_PKGS)
    string(MAKE_C_IDENTIFIER "${_p}_headers" _pid)
    pkg_check_modules(${_pid} REQUIRED QUIET ${_p})
    target_include_directories(${_t} PUBLIC ${${_pid}_INCLUDE_DIRS})
    target_compile_options(${_t} PRIVATE ${${_pid}_CFLAGS_OTHER})
  endforeach()
  if(M_DLOPEN_PKGS)
    target_link_libraries(${_t} PUBLIC Threads::Threads ${CMAKE_DL_LIBS})
  endif()
  if(M_LIBS)
    target_link_libraries(${_t} PUBLIC ${M_LIBS})
    set_property(GLOBAL APPEND PROPERTY DLE_EXTERNAL_LIBS ${M_LIBS})
  endif()
  set_property(GLOBAL APPEND PROPERTY DLE_MODULES ${_t})
endfunction()

function(dle_finish_library)
  get_property(_mods GLOBAL PROPERTY DLE_MODULES)
  add_library(dlenergy SHARED "${CMAKE_SOURCE_DIR}/src/cli/empty.c")
  set_target_properties(dlenergy PROPERTIES VERSION ${PROJECT_VERSION} SOVERSION 0)
  get_property(_ext GLOBAL PROPERTY DLE_EXTERNAL_LIBS)
  if(_ext)
    list(REMOVE_DUPLICATES _ext)
  endif()
  # The shared library is the modules' object files plus their external libraries.
  foreach(_m IN LISTS _mods)
    target_sources(dlenergy PRIVATE $<TARGET_OBJECTS:${_m}>)
  endforeach()
  target_link_libraries(dlenergy PUBLIC ${_ext} Threads::Threads m dl)
  # Calls between the library's own functions bind inside it (no PLT hop per call), as
  # they do in the statically linked CLI: in-process recording (the Python package)
  # then runs the sampler as cheaply as `dlenergy run` does (bench/python).
  target_link_options(dlenergy PRIVATE "LINKER:-Bsymbolic-functions")
  target_include_directories(dlenergy PUBLIC
    "$<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}/include>"
    "$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>")
  # Everything a module links publicly (sqlite3, zlib, ...) is a dependency of the
  # installed library too; collect it for the pkg-config file.
  configure_file("${CMAKE_SOURCE_DIR}/cmake/dlenergy.pc.in"
                 "${CMAKE_BINARY_DIR}/dlenergy.pc" @ONLY)
  install(TARGETS dlenergy LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(FILES "${CMAKE_BINARY_DIR}/dlenergy.pc"
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endfunction()

function(dle_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS;ENV;ARGS" ${ARGN})
  add_executable(test_${T_NAME} ${T_SOURCES})
  target_include_directories(test_${T_NAME} PRIVATE "${CMAKE_SOURCE_DIR}/include"
                             "${CMAKE_SOURCE_DIR}/src" "${CMAKE_SOURCE_DIR}/tests")
  target_link_libraries(test_${T_NAME} PRIVATE ${T_LIBS} m)
  add_test(NAME ${T_NAME} COMMAND test_${T_NAME} ${T_ARGS}
           WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}")
  _dle_test_props(${T_NAME} "${T_LABELS}" "${T_ENV}" "${T_TIMEOUT}")
endfunction()

function(dle_script_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "COMMAND;LABELS;ENV" ${ARGN})
  add_test(NAME ${T_NAME} COMMAND ${T_COMMAND}
           WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}")
  _dle_test_props(${T_NAME} "${T_LABELS}" "${T_ENV}" "${T_TIMEOUT}")
endfunction()

function(_dle_test_props name labels env timeout)
  if(NOT timeout)
    set(timeout 600)
  endif()
  set(_env "DLENERGY_BIN=$<TARGET_FILE:dlenergy_cli>"
           "DLE_SHARED_DIR=${DLE_SHARED_DIR}"
           "DLE_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
           "DLE_BUILD_DIR=${CMAKE_BINARY_DIR}"
           "DLE_DATA_DIR=${CMAKE_SOURCE_DIR}/data"
           ${env})
  if(DLE_SANITIZE)
    list(APPEND _env "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0"
                     "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
  endif()
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "${_env}" SKIP_RETURN_CODE 77
                       TIMEOUT ${timeout} LABELS "${labels}")
endfunction()
