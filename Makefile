# Two entry points: `make demo` (the main job) and `make test`. Both set up .venv on first use.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# torch first: 2.13.0 is a CPU wheel on these machines; elsewhere pip resolves it normally.
TORCH   ?= torch==2.13.0

.PHONY: demo test test-all setup bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q $(TORCH) || $(BIN)/pip install -q torch
	@$(BIN)/pip install -q -e ".[test]"
	@# MTCNN weights for `facessl prepare` ship in this wheel; --no-deps: its pins (old torch, torchvision) are not ours
	@$(BIN)/pip install -q --no-deps facenet-pytorch==2.6.0
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/facessl demo --out demo

test: $(STAMP)
	$(BIN)/python -m pytest

test-all: $(STAMP)
	$(BIN)/python -m pytest -m ""

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) demo .pytest_cache
