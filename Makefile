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

bench: $(STAMP)
	$(BIN)/python bench/search_fractaldb.py
	$(BIN)/python bench/render_fractaldb.py

clean:
	rm -rf $(VENV) build *.egg-info
