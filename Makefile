# The two commands of the README: `make demo` and `make test`. Each builds .venv when missing,
# installing exactly the versions in requirements/lock.txt (`make lock` refreshes it on purpose).
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
LOCK   := requirements/lock.txt
PIP    := -m pip install -q --disable-pip-version-check
# torch==2.13.0 is a CPU build on local disk here; an unpinned torch would pull a multi-GB CUDA build.
# It stays out of the lock so a GPU workstation can pick its own build: make TORCH=torch==X.Y.Z
TORCH  ?= torch==2.13.0

.PHONY: demo test lint bench setup lock

setup: $(STAMP)

$(STAMP): pyproject.toml $(LOCK)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) $(PIP) --upgrade pip
	$(PY) $(PIP) "$(TORCH)"
	$(PY) $(PIP) -c requirements/lock.txt -e '.[dev,adapters]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/gvmgen demo --out demo-out

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(STAMP)
	$(PY) $(PIP) -c requirements/lock.txt -e '.[dev,adapters,bench]'
	$(PY) bench/run_all.py

# Resolves pyproject's ranges afresh in a throw-away venv and records what it got.
lock:
	rm -rf .lock-venv && python3 -m venv .lock-venv
	.lock-venv/bin/python $(PIP) --upgrade pip
	.lock-venv/bin/python $(PIP) "$(TORCH)"
	.lock-venv/bin/python $(PIP) '.[dev,adapters,bench]'
	mkdir -p requirements
	( echo "# make lock: the versions the tests passed with; torch is pinned in the Makefile."; \
	  .lock-venv/bin/python -m pip freeze --exclude gvmgen | grep -viE '^(torch|nvidia-|triton)' ) > $(LOCK)
	rm -rf .lock-venv
