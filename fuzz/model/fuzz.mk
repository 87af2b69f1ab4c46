FUZZERS += model
model_LIBS := dle_regress dle_gpus dle_core
model_EXT := -lcjson -ldl -lpthread
model_CORPUS := ../tests/regress/corpus
