# Two entry points: `make up` (guarded demo on embedded defaults) and `make test` (the whole suite);
# `make up-server` runs the control plane and its dashboard until Ctrl-C.
# Both install what they need: the venv with Ramparts and its dev tools, and the pinned Claude Code CLI.
PYTHON ?= python3
CLAUDE_VERSION := 2.1.328
VENV := .venv
TOOLS := .tools
CLAUDE_BIN := $(TOOLS)/node_modules/@anthropic-ai/claude-code/bin/claude.exe
export RAMPARTS_CLAUDE_BIN := $(abspath $(CLAUDE_BIN))

.PHONY: up up-server test lint typecheck unit integration bench clean deps

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

$(TOOLS)/.installed-$(CLAUDE_VERSION):
	command -v npm >/dev/null || (apt-get update && apt-get install -y --no-install-recommends nodejs npm)
	npm install --prefix $(TOOLS) --no-audit --no-fund --loglevel=error @anthropic-ai/claude-code@$(CLAUDE_VERSION)
	$(CLAUDE_BIN) --version | grep -q '^$(CLAUDE_VERSION) '
	touch $@

# A real PostgreSQL server for the scale-out store's tests (Debian's package; the tests start their own
# throwaway server on 127.0.0.1).
$(TOOLS)/.installed-postgres:
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
	  (apt-get update && apt-get install -y --no-install-recommends postgresql)
	mkdir -p $(TOOLS) && touch $@

# Debian's headless Chromium for the dashboard's browser tests (Playwright drives it; no browser download).
$(TOOLS)/.installed-chromium:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium)
	mkdir -p $(TOOLS) && touch $@

deps: $(VENV)/.installed $(TOOLS)/.installed-$(CLAUDE_VERSION) $(TOOLS)/.installed-postgres $(TOOLS)/.installed-chromium

up: deps
	$(VENV)/bin/ramparts demo --claude-bin $(RAMPARTS_CLAUDE_BIN)

# The control plane with its dashboard on 127.0.0.1 (SQLite in $(UP_STATE)), a demo admin whose password is
# printed once, and the two lines that make a developer's own Claude Code report to it; Ctrl-C stops it.
UP_STATE ?= .state/up
UP_LISTEN ?= 127.0.0.1:8790
up-server: deps
	@mkdir -p $(UP_STATE)
	@pw=$$($(VENV)/bin/python -c 'import secrets; print(secrets.token_urlsafe(15))'); \
	  echo "$$pw" | $(VENV)/bin/ramparts server user add admin --role admin --password-stdin --state-dir $(UP_STATE) >/dev/null && \
	  token=$$($(VENV)/bin/ramparts server token create --host "$$(hostname)" --state-dir $(UP_STATE) 2>/dev/null) && \
	  echo "dashboard: http://$(UP_LISTEN)/ui/   user: admin   password: $$pw   (shown once)" && \
	  echo "to report to it from this machine (then run: ramparts agent):" && \
	  echo "  export RAMPARTS_SERVER=http://$(UP_LISTEN)" && \
	  echo "  export RAMPARTS_SERVER_TOKEN=$$token"
	$(VENV)/bin/ramparts server --listen $(UP_LISTEN) --state-dir $(UP_STATE)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy --strict src

# The whole suite under coverage; the engine, its controls and the rule matcher stay at 100 % branch coverage.
test: deps lint typecheck
	$(VENV)/bin/coverage run -m pytest -q
	$(VENV)/bin/coverage report --include='*/ramparts/engine.py,*/ramparts/controls.py,*/ramparts/policy/rules.py' --fail-under=100

bench: deps
	for b in bench/*.py; do $(VENV)/bin/python $$b --quick || exit 1; done

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
