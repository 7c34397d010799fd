# simjobs developer commands. Both targets work on a fresh clone: they create the
# virtual environment (.venv) when it is missing and install the package into it.
#
#   make demo                     run the demo (two levels of the demo simulator)
#   make test                     run the test suite
#   make test PYTEST_ARGS='-k cli -x'   pass arguments through to pytest

PYTHON ?= python3
VENV := .venv
PYTEST_ARGS ?=

.PHONY: demo test venv

# Reinstalled when pyproject.toml changes (new dependencies); the package itself is
# installed in editable mode, so source changes need no reinstall.
$(VENV)/.installed: pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	@touch $@

venv: $(VENV)/.installed

demo: venv
	$(VENV)/bin/simjobs demo

# pytest exits 5 when it collected no tests: that fails too, and says so.
test: venv
	@$(VENV)/bin/python -m pytest -q $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; \
	exit $$status
