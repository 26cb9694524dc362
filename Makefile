# espnet_bljust: install into .venv and run the tests.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.bljust-installed

.PHONY: install tools test demo clean-venv
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

install: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

# uv resolves and installs the pinned torch/torchaudio/espnet set in about a
# minute; plain pip has been seen to refuse a URL dependency of espnet.
# --compile-bytecode writes every module's .pyc at install: where nothing may
# write them later (PYTHONDONTWRITEBYTECODE, a read-only venv) each Python
# process would otherwise compile espnet2 afresh (about 7 s per process).
$(STAMP): setup.py | $(PY)
	$(PY) -m pip --version >/dev/null 2>&1 || $(PY) -m ensurepip --upgrade >/dev/null
	$(PY) -m pip install -q uv
	$(PY) -m uv pip install --python $(PY) --compile-bytecode -e ".[test]"
	touch $(STAMP)

# espeak-ng and sox make the demo corpus (the recipe test skips without them).
tools:
	@command -v espeak-ng >/dev/null && command -v sox >/dev/null || \
		{ $(SUDO) apt-get update && $(SUDO) apt-get install -y espeak-ng sox; } || \
		echo "could not install espeak-ng/sox: the demo recipe test will be skipped"

# One test process per core, at most 4 (pytest-xdist; each imports espnet2 and
# torch); a test file stays in one process, so the recipe files build their
# corpus and models once.
TEST_JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ "$$n" -gt 4 ] && n=4; echo $$n)
test: install tools
	$(PY) -m pytest -q -rs -n $(TEST_JOBS) --dist loadfile tests

# The main job: the demo recipe end to end on a corpus it synthesizes itself.
demo: install tools
	egs2/demo/bljust1/run.sh

clean-venv:
	rm -rf $(VENV)
