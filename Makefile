# Two commands set everything up on a fresh machine:
#   make demo   fetch 20 Newsgroups, build the index, evaluate it beside its baselines, run sample queries
#   make test   run the test suite (what CI runs)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INDEX := indexes/20newsgroups
HASHED := indexes/20newsgroups-64bit
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: lint demo hashing reuters corpora known-item sweep images family serve screenshot scale sample-size spark test slow bench install clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

# the spark extra (pyspark, pyarrow) for the Spark engine's tests: `make test` needs it, `make demo` does not
$(BIN)/.spark: $(BIN)/.installed
	$(BIN)/pip install --quiet -e '.[test,spark]'
	touch $@

demo: install
	$(BIN)/retrieval data fetch 20newsgroups
	$(BIN)/retrieval build data/20newsgroups/train.jsonl --out $(INDEX)
	$(BIN)/retrieval info $(INDEX)
	$(BIN)/retrieval evaluate $(INDEX) --queries data/20newsgroups/test.jsonl -k 100
	$(BIN)/retrieval query $(INDEX) "nasa launched the space shuttle into orbit" -k 5
	$(BIN)/retrieval query $(INDEX) "my hard drive will not boot after installing a new scsi controller" -k 5
	$(BIN)/retrieval query $(INDEX) --like train-00000 -k 5

# Semantic hashing: 64-bit codes (8 bytes per document) beside ITQ and float LSA, with and without re-ranking
hashing: install
	$(BIN)/retrieval data fetch 20newsgroups
	$(BIN)/retrieval build data/20newsgroups/train.jsonl --out $(HASHED) --bits 64
	$(BIN)/retrieval evaluate $(HASHED) --queries data/20newsgroups/test.jsonl -k 100 --lsa-dims 32
	$(BIN)/retrieval evaluate $(HASHED) --queries data/20newsgroups/test.jsonl -k 10 --rerank 100 --no-baselines
	$(BIN)/retrieval query $(HASHED) "nasa launched the space shuttle into orbit" -k 5 --rerank 100

# The second corpus: Reuters-21578 R8, with the defaults chosen on 20 Newsgroups
reuters: install
	$(BIN)/retrieval data fetch reuters8
	$(BIN)/retrieval build data/reuters8/train.jsonl --out indexes/reuters8
	$(BIN)/retrieval evaluate indexes/reuters8 --queries data/reuters8/test.jsonl -k 100
	$(BIN)/retrieval build data/reuters8/train.jsonl --out indexes/reuters8-64bit --bits 64
	$(BIN)/retrieval evaluate indexes/reuters8-64bit --queries data/reuters8/test.jsonl -k 100 --lsa-dims 32

# The multi-corpus protocol: the default on five labelled corpora, seeds 0 1 (64-bit codes: seed 0), each query mode,
# beside TF-IDF cosine, LSA-32, BM25 and ITQ-64 of LSA; about 45 minutes on 2 cores
corpora: install
	$(BIN)/python bench/corpora.py --seeds 0,1

# The known-item protocol: four tasks (Debian synopses, BBC headlines, Wikipedia short descriptions, recipe
# names), each built with the defaults, seeds 0 and 1, every mode beside BM25, TF-IDF and LSA-32
known-item: install
	$(BIN)/python bench/known_item.py

# Every variant of bench/sweep.py on 20 Newsgroups (about 4 minutes each on 2 cores)
sweep: install
	$(BIN)/retrieval data fetch 20newsgroups
	$(BIN)/python bench/sweep.py

# Fashion-MNIST: needs Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)
images: install
	@test -d /usr/share/datasets/fashion-mnist || test -d data/fashion-mnist || \
		{ echo "Fashion-MNIST is missing: apt-get install dataset-fashion-mnist"; exit 1; }
	for model in lecture deep conv; do \
		epochs=$$([ $$model = conv ] && echo 15 || echo 30); \
		$(BIN)/retrieval images train --out indexes/fashion-$$model --model $$model --epochs $$epochs && \
		$(BIN)/retrieval images evaluate indexes/fashion-$$model || exit 1; \
	done
	$(BIN)/retrieval images query indexes/fashion-conv --test-index 0 -k 5
	$(BIN)/retrieval images train --out indexes/fashion-denoise --model conv --epochs 10 --noise gaussian --noise-amount 0.5
	$(BIN)/retrieval images evaluate indexes/fashion-denoise
	$(BIN)/retrieval images plot indexes/fashion-denoise --out-dir docs/images

# The autoencoder family, compared with the same budget; needs the indexes of `make demo` and `make images`
KINDS := plain,denoising,sparse,contractive,variational
family: install
	$(BIN)/retrieval demo surface --out docs/images/surface.png
	$(BIN)/retrieval images evaluate indexes/fashion-lecture --kinds $(KINDS) --out-dir docs/compare/fashion
	$(BIN)/retrieval evaluate $(INDEX) --queries data/20newsgroups/test.jsonl --kinds $(KINDS) --out-dir docs/compare/20newsgroups
	$(BIN)/retrieval images train --out indexes/fashion-linear --model linear --epochs 30 --lr-schedule cosine
	$(BIN)/retrieval images evaluate indexes/fashion-linear

# The HTTP API and search page over the index `make demo` builds (http://127.0.0.1:8000/; Ctrl-C stops it)
serve: install
	$(BIN)/retrieval serve $(INDEX)

# The README's picture of the search page; needs Debian's chromium and chromium-driver
screenshot: install
	$(BIN)/python docs/screenshot.py $(INDEX) --query "nasa launched the space shuttle into orbit" --out docs/images/serve.png

# A million synthetic documents (bench/scale.py): stream-build on the default 20,000-document sample into an
# IVF index, float and 64-bit codes, then search speed, recall and P@100 beside LSA-32, and add/remove;
# about 20 minutes and 4.2 GB at the peak on 2 cores
SYNTHETIC := data/synthetic-1000000
scale: install
	$(BIN)/retrieval data fetch 20newsgroups
	$(BIN)/python bench/scale.py --docs 1000000 --queries 10000
	$(BIN)/python bench/peak.py $(BIN)/retrieval build $(SYNTHETIC)/train.jsonl --out indexes/synthetic-1m --no-validate
	$(BIN)/python bench/scale_eval.py indexes/synthetic-1m --queries $(SYNTHETIC)/test.jsonl -n 1000
	$(BIN)/python bench/peak.py $(BIN)/retrieval build $(SYNTHETIC)/train.jsonl --out indexes/synthetic-1m-64bit --bits 64 --no-validate
	$(BIN)/python bench/scale_eval.py indexes/synthetic-1m-64bit --queries $(SYNTHETIC)/test.jsonl -n 1000
	$(BIN)/python bench/updates.py indexes/synthetic-1m --queries $(SYNTHETIC)/test.jsonl --remove 1000

# The default training sample: P@100 of samples of 20 Newsgroups and of 100,000 synthetic documents against
# training on everything, seeds 0 and 1 (bench/sample_size.py); about an hour on 2 cores
sample-size: install
	$(BIN)/python bench/sample_size.py --corpora 20newsgroups --sizes 5000 10000 0
	$(BIN)/python bench/sample_size.py --corpora synthetic-100000 --sizes 10000 20000 0
	$(BIN)/python bench/sample_size.py --table

# The Spark engine against the single-machine build on 100,000 synthetic documents (bench/spark_parity.py);
# needs Java 17 or later; about 4 minutes on 2 cores
spark: install $(BIN)/.spark
	$(BIN)/retrieval data fetch 20newsgroups
	$(BIN)/python bench/spark_parity.py --corpus data/synthetic-100000 --train-sample 20000 -n 1000 --master 'local[2]'

# ruff (lint, format) and import-linter's contracts (pyproject.toml), then the tests
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test: install $(BIN)/.spark lint
	$(BIN)/python -m pytest

slow: install
	$(BIN)/python -m pytest -m slow

# needs the indexes of `make demo` and `make hashing`
bench: install
	$(BIN)/python bench/build_index.py
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/query_path.py $(INDEX)
	$(BIN)/python bench/runtime_parity.py $(INDEX) $(HASHED)
	$(BIN)/python bench/serve_load.py $(INDEX) --rebuild-with $(HASHED)
	$(BIN)/python bench/serve_load.py $(INDEX) --words 8 --workers 2 --rebuild-with ""
	$(BIN)/python bench/speed.py --float $(INDEX) --binary $(HASHED)
	$(BIN)/python bench/speed.py --float $(INDEX) --binary $(HASHED) --scale 1000000

clean:
	rm -rf $(VENV) indexes *.egg-info
