FUZZERS += markers
markers_LIBS := dle_markers dle_core
markers_EXT :=
markers_CORPUS := ../tests/markers/corpus
