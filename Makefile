# Glean: `make serve` installs and runs the service; `make test` installs and runs every test.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install browser serve test bench clean

# PyTorch goes in first, pinned to the CPU build (2.13.0): installing sentence-transformers
# first would pull a multi-GB CUDA build of torch.
$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

serve: install
	$(VENV)/bin/glean serve

browser:
	bash scripts/install_browser.sh

test: install browser
	$(PY) -m pytest -q

bench: install
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) var .pytest_cache
