# Two entry points: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test,train,dist]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/fdsl-gen render fractaldb --search --categories 8 --out shards/fractaldb-demo \
		--size 128 --points 20000 --counts 2 --samples-per-shard 200
	$(BIN)/fdsl-gen verify shards/fractaldb-demo
	$(BIN)/fdsl-gen preview shards/fractaldb-demo --out shards/fractaldb-demo/preview.png
	@echo "demo: shards/fractaldb-demo (preview.png beside the shards)"

# Each script prints fdsl vs its baseline; BENCHMARKS.md records the results.
# bench/transfer.py (76 min on 2 cores, see BENCHMARKS.md) is left out: run it by hand.
bench: $(STAMP)
	@test -f bench/official/build/official.json || { echo "bench: the official code is not built: run $(PYTHON) bench/official/setup.py"; exit 1; }
	$(BIN)/python bench/official_compare.py
	$(BIN)/python bench/scale_out.py
	$(BIN)/python bench/loader.py
	$(BIN)/python bench/train_step.py

clean:
	rm -rf $(VENV) build *.egg-info
