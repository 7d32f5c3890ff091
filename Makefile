# Two entry points: `make demo` (the main job) and `make test`. Both set up .venv on first use.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# torch first: 2.13.0 is a CPU wheel on these machines; elsewhere pip resolves it normally.
TORCH   ?= torch==2.13.0

.PHONY: demo test test-all setup bench clean

setup: $(STAMP)

# pip byte-compiles what it installs on one core (about 33 of its 59 s here, session 25); compileall does it on every
# core afterwards: install 22 s + compile 16 s (session 26; docs/benchmarks.md). Its exit status is ignored, as pip
# ignores compile errors: a wheel may carry files for newer Pythons (torch's py312_intrinsics.py), never imported here.
# Left out: packages nothing here imports (torch's lazy sympy / networkx / mpmath, pip, setuptools): 2,917 of 9,809
# files; compileall 17.8-18.3 s against 22.2-24.9 s (session 27). Were one imported, its process compiles it in memory.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q --no-compile $(TORCH) || $(BIN)/pip install -q --no-compile torch
	@$(BIN)/pip install -q --no-compile -e ".[test]"
	@# MTCNN weights for `facessl prepare` ship in this wheel; --no-deps: its pins (old torch, torchvision) are not ours
	@$(BIN)/pip install -q --no-compile --no-deps facenet-pytorch==2.6.0
	@$(BIN)/python -m compileall -q -j 0 -x 'site-packages/(sympy|networkx|mpmath|pip|setuptools)/' "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" >/dev/null 2>&1 || true
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
