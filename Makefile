# mulfree: two commands on a fresh machine — `make demo` and `make test`.
# Every target creates .venv on first use and installs the project into it.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.mulfree-installed

DEFAULT_MODEL := build/model.qnet.npz

DATASET ?= digits
MODEL   ?= $(DEFAULT_MODEL)
BOARD   ?= icebreaker
SIM     ?= all
FOLDING ?= none
# sim: rom (preloaded) or ram/spram (loaded first); bitstream: auto picks SPRAM when needed.
WEIGHT_STORE ?=
PYTEST_ARGS ?= -n 2 --dist loadfile --durations=30

.PHONY: venv test test-fast lint demo model sim bitstream program bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Up front, one line per simulator that is missing (its tests skip, saying how to install it).
test: $(STAMP)
	@$(PY) -m sim.toolchain --check
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	@$(PY) -m sim.toolchain --check
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .

demo: $(STAMP)
	$(VENV)/bin/mulfree demo

# sim: --dataset only when DATASET is given; otherwise the one the model records.
sim: $(STAMP)
	$(VENV)/bin/mulfree sim --sim $(SIM) $(if $(filter-out file,$(origin DATASET)),--dataset $(DATASET),) $(if $(filter-out $(DEFAULT_MODEL),$(MODEL)),--model $(MODEL),) $(if $(WEIGHT_STORE),--weight-store $(WEIGHT_STORE),)

# The default model: a ternary + quantized-backprop network on the default dataset.
model: $(DEFAULT_MODEL)

$(DEFAULT_MODEL): | $(STAMP)
	$(VENV)/bin/mulfree train --dataset $(DATASET) --weights ternary --qb --quiet --out build/model.npz
	$(VENV)/bin/mulfree quantize build/model.npz --out $@

bitstream: $(STAMP) $(if $(filter $(DEFAULT_MODEL),$(MODEL)),$(DEFAULT_MODEL),)
	$(VENV)/bin/mulfree build --board $(BOARD) --model $(MODEL) --folding $(FOLDING) $(if $(WEIGHT_STORE),--weight-store $(WEIGHT_STORE),)

program: $(STAMP)
	$(VENV)/bin/mulfree program --board $(BOARD)

bench: $(STAMP)
	for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf build sim_build .pytest_cache
