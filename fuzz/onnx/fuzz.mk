FUZZERS += onnx
onnx_LIBS := dle_onnx dle_core
onnx_EXT := -lprotobuf-c
onnx_CORPUS := ../tests/onnx/corpus
