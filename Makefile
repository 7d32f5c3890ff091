# Two entry points: `make demo` (the main job) and `make test`. Both set up .venv on first use.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# 2.13.0 is a CPU wheel on these machines (found through pip's find-links); elsewhere it resolves normally.
TORCH   ?= torch==2.13.0

.PHONY: demo test test-all setup install-uv install-pip bench clean

setup: $(STAMP)

# pip byte-compiles what it installs on one core (about 33 of its 59 s here, session 25); compileall does it on every
# core afterwards: install 22 s + compile 16 s (session 26; docs/benchmarks.md). Its exit status is ignored, as pip
# ignores compile errors: a wheel may carry files for newer Pythons (torch's py312_intrinsics.py), never imported here.
# Left out: packages nothing here imports at start (sympy / networkx / mpmath, pip, setuptools): 2,917 of 9,809 files;
# compileall 17.8-18.3 s against 22.2-24.9 s (session 27); nor the packages' own tests/ and torch's test internals.
# A process that imports one compiles it in memory (torch's optimisers import sympy: 1.6 s in each training process,
# session 36, less than compiling all of sympy here).
# src/ is compiled too: this machine sets PYTHONDONTWRITEBYTECODE=1, so each process would compile facessl again.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv --without-pip $(VENV)
	@$(MAKE) --no-print-directory install-uv || { echo "setup: uv could not be had, installing with pip" >&2; $(MAKE) --no-print-directory install-pip; }
	@$(BIN)/python -m compileall -q -j 0 -x 'site-packages/((sympy|networkx|mpmath|pip|setuptools)/|.*/tests/|torch/testing/_internal/)' "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" src >/dev/null 2>&1 || true
	@touch $(STAMP)

# uv installs the same packages at the same versions as pip, downloading and unpacking in parallel: a fresh .venv in
# 10 s against 25 s with pip (session 36; docs/benchmarks.md). It is fetched into .venv/tools by the system's pip;
# where that fails, install-pip does the work as before. The installed torch is kept (a user's CUDA build, say).
# MTCNN weights for `facessl prepare` ship in facenet-pytorch's wheel; --no-deps: its pins (old torch, torchvision)
# are not ours.
# uv reads no pip settings: pip's find-links (where this machine keeps its torch wheel) and index-url are passed on.
UV := $(VENV)/tools/bin/uv
PIP_SETTING = $(PY) -m pip config list 2>/dev/null | sed -n "s/^[^=]*\.$(1)='\(.*\)'$$/\1/p" | tr ' ' '\n'
install-uv:
	@test -x $(UV) || $(PY) -m pip install -q --disable-pip-version-check --root-user-action=ignore --target $(VENV)/tools uv
	@$(UV) pip install -q --no-cache --python $(BIN)/python \
		$$(for l in $$($(call PIP_SETTING,find-links) | sort -u); do printf -- '--find-links %s ' "$$l"; done) \
		$$(for u in $$($(call PIP_SETTING,index-url) | head -1); do printf -- '--index-url %s ' "$$u"; done) \
		$$($(BIN)/python -c "import torch" 2>/dev/null || echo "$(TORCH)") -e ".[test]" pip
	@$(UV) pip install -q --no-cache --python $(BIN)/python --no-deps facenet-pytorch==2.6.0

# torch first: 2.13.0 is a CPU wheel on these machines; elsewhere pip resolves it normally.
install-pip:
	@$(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip >/dev/null
	@$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q --no-compile $(TORCH) || $(BIN)/python -m pip install -q --no-compile torch
	@$(BIN)/python -m pip install -q --no-compile -e ".[test]"
	@$(BIN)/python -m pip install -q --no-compile --no-deps facenet-pytorch==2.6.0

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
