# simjobs developer commands. Both targets work on a fresh clone: they create the
# virtual environment (.venv) when it is missing and install the package into it.
#
#   make demo                     run the demo (two levels of the demo simulator)
#   make test                     run the test suite
#   make test PYTEST_ARGS='-k cli -x'   pass arguments through to pytest
#   make services                 start the test servers (loopback sshd, one-node Slurm)
#   make stop-services            stop them
#
# As root, `make test` first installs and starts the test servers (scripts/services/,
# idempotent: a second start takes milliseconds); as another user the tests that need
# them skip, each saying why.

PYTHON ?= python3
VENV := .venv
PYTEST_ARGS ?=

.PHONY: demo test venv services stop-services

# Reinstalled when pyproject.toml changes (new dependencies); the package itself is
# installed in editable mode, so source changes need no reinstall.
$(VENV)/.installed: pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	@touch $@

venv: $(VENV)/.installed

demo: venv
	$(VENV)/bin/simjobs demo

services:
	@if [ "$$(id -u)" = 0 ]; then \
		bash scripts/services/install-tools.sh && \
		bash scripts/services/start-sshd.sh >/dev/null && \
		bash scripts/services/start-slurm.sh >/dev/null && \
		bash scripts/services/start-sge.sh >/dev/null; \
	else \
		echo "make: not root, so the sshd/Slurm tests will skip (scripts/services/README.md)" >&2; \
	fi

stop-services:
	-bash scripts/services/stop-sge.sh
	-bash scripts/services/stop-slurm.sh
	-bash scripts/services/stop-sshd.sh

# pytest exits 5 when it collected no tests: that fails too, and says so.
test: venv services
	@$(VENV)/bin/python -m pytest -q $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; \
	exit $$status
