FUZZERS += predict_csv
predict_csv_LIBS := dle_regress dle_gpus dle_core
predict_csv_EXT := -lcjson -ldl -lpthread
predict_csv_CORPUS := ../tests/regress/csv_corpus
