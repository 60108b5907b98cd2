# Two set-up commands for a fresh machine (see README):
#   make demo   runs the main job on the embedded SQLite default
#   make test   runs the whole test suite (PostgreSQL tests skip without a server, fail under CI=true)
#   make browser installs Debian's chromium for the public page's browser test (make test runs it)
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench install browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/ssj demo

# Debian's chromium renders the public page (一公开) in tests/api/test_pages_browser.py. Installed
# with apt when missing (as root, or with sudo that needs no password). Where that cannot be done
# the browser test skips with one line, except under CI=true, where this target fails.
SUDO = $(shell [ "$$(id -u)" = 0 ] || { command -v sudo >/dev/null && sudo -n true 2>/dev/null && echo sudo; } || echo none)

browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$(SUDO)" != none ]; then \
			echo "installing Debian's chromium (apt-get)"; \
			$(SUDO) apt-get update -qq && \
			$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
		else false; fi || { \
			case "$${CI:-}" in 1|true|TRUE|True|yes) \
				echo "chromium is required under CI=true and could not be installed" >&2; exit 1;; esac; \
			echo "chromium not installed (apt-get install chromium as root): the browser test will skip" >&2; }; }

test: $(STAMP) browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest -n 2 $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(VENV)/bin/python -m ops.bench.ledger

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
