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

# Every figure of BENCHMARKS.md, each script with the options given there. The official code's venv and
# checkouts come first (bench/official/setup.py); bench/transfer.py, last, takes about 55 min on 2 cores.
bench: $(STAMP)
	@test -f bench/official/build/official.json || { echo "bench: the official code is not built: run $(PYTHON) bench/official/setup.py"; exit 1; }
	$(BIN)/python bench/official_compare.py
	$(BIN)/python bench/render_fractaldb.py
	$(BIN)/python bench/split.py
	$(BIN)/python bench/live.py
	$(BIN)/python bench/loader.py
	$(BIN)/python bench/loader.py --workers 2
	$(BIN)/python bench/loader.py --preset fdsl-vit
	$(BIN)/python bench/train_step.py --workers 1 --threads 1 --steps 8
	$(BIN)/python bench/train_step.py --workers 2 --threads 1 --steps 8
	$(BIN)/python bench/train_step.py --model resnet18 --img-size 32 --workers 1 --threads 1
	$(BIN)/python bench/train_step.py --model resnet18 --img-size 32 --workers 1 --threads 2
	$(BIN)/python bench/objstore.py
	$(BIN)/python bench/scale_out.py --shards 16
	for seed in 0 1 2 3 4; do $(BIN)/python bench/soak.py --parent-share 0.4 --seed $$seed || exit 1; done
	PYTHONPATH=. $(BIN)/python bench/startup.py --repeat 5
	$(BIN)/python bench/transfer.py

clean:
	rm -rf $(VENV) build *.egg-info
