# Rightful — the two commands a fresh machine needs are `make demo` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help install system-deps test lint typecheck pytest demo bench clean

help:
	@echo "make test   install everything the tests need, then ruff + mypy --strict + pytest"
	@echo "make demo   build a demo corpus (loopback sites + tagged images) and run 'rightful audit' over it"
	@echo "make bench  benchmarks side by side with their baselines (bench/)"
	@echo "make lint   ruff + mypy only"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	# torch first, pinned to the CPU build this machine keeps on disk, so no extra pulls a multi-GB CUDA build
	$(BIN)/python -m pip install -q --disable-pip-version-check 'torch==2.13.0'
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[all,dev]'
	@touch $(STAMP)

install: $(STAMP)

system-deps:
	@bash scripts/system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check --no-cache src tests bench
	$(BIN)/ruff format --no-cache --check src tests bench
	$(BIN)/mypy

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider

test: system-deps lint pytest

demo: $(STAMP)
	$(BIN)/python -m rightful.audit.demo

bench: $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r bench/requirements.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check -r bench/provenance/requirements.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps 'invisible-watermark==0.2.0'
	$(BIN)/python bench/signals/run.py
	$(BIN)/python bench/audit/run.py
	$(BIN)/python bench/match/run.py
	$(BIN)/python bench/provenance/run.py
	$(BIN)/python bench/protect/run.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build dist
