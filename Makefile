# Two entry points for a fresh machine: `make run` (main job) and `make test` (test suite).
# Both create .venv and install the project on first use (re-install when pyproject.toml changes).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The offline MedMNIST files beside the checkout, when present (see ../shared/data/SOURCES.md).
SHARED_MEDMNIST := $(abspath ../shared/data/medmnist)
ifneq ($(wildcard $(SHARED_MEDMNIST)/breastmnist.npz),)
export SYNTHMED_DATA_ROOT ?= $(SHARED_MEDMNIST)
endif
OUT ?= out

.PHONY: install run test lint bench docs reference

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch/torchvision first, pinned to the releases on this machine's disk (a CPU+CUDA wheel set).
	$(BIN)/python -m pip install --quiet "torch==2.14.1" "torchvision==0.29.1"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/.installed

run: $(BIN)/.installed
	$(BIN)/synthmed run --out $(OUT)/main

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q --timeout=900 tests

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests benchmarks

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/train_speed.py

# The documentation site (docs/, mkdocs.yml) into site/; --strict: a broken link or a missing page is an error.
docs: $(BIN)/.installed
	$(BIN)/python -m synthmed.docs_reference --check
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# Rewrite the generated reference pages (docs/reference/configuration.md, cli.md) from the code.
reference: $(BIN)/.installed
	$(BIN)/python -m synthmed.docs_reference
