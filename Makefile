# espnet_bljust: install into .venv and run the tests.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.bljust-installed

.PHONY: install test clean-venv

install: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

# uv resolves and installs the pinned torch/torchaudio/espnet set in about a
# minute; plain pip has been seen to refuse a URL dependency of espnet.
$(STAMP): setup.py | $(PY)
	$(PY) -m pip --version >/dev/null 2>&1 || $(PY) -m ensurepip --upgrade >/dev/null
	$(PY) -m pip install -q uv
	$(PY) -m uv pip install --python $(PY) -e ".[test]"
	touch $(STAMP)

test: install
	$(PY) -m pytest -q tests

clean-venv:
	rm -rf $(VENV)
