# Two entry points: `make up` (the whole stack on embedded defaults, with demo sessions, until Ctrl-C) and
# `make test` (the whole suite).
# Both install what they need: the venv with Ramparts and its dev tools, and the pinned Claude Code CLI.
PYTHON ?= python3
CLAUDE_VERSION := 2.1.328
VENV := .venv
TOOLS := .tools
CLAUDE_BIN := $(TOOLS)/node_modules/@anthropic-ai/claude-code/bin/claude.exe
export RAMPARTS_CLAUDE_BIN := $(abspath $(CLAUDE_BIN))

.PHONY: up test lint typecheck unit integration bench clean deps

# Each step says what it installs before it starts (`make up` takes a minute or two on a fresh machine).
$(VENV)/.installed: pyproject.toml
	@echo "==> [1/4] Python virtualenv $(VENV) with Ramparts and its dev tools (pip; about a minute)"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --progress-bar off -e '.[dev]'
	touch $@

$(TOOLS)/.installed-$(CLAUDE_VERSION):
	@echo "==> [2/4] Claude Code $(CLAUDE_VERSION) into $(TOOLS) (npm; about 370 MB)"
	command -v npm >/dev/null || (apt-get update && apt-get install -y --no-install-recommends nodejs npm)
	npm install --prefix $(TOOLS) --no-audit --no-fund --loglevel=error @anthropic-ai/claude-code@$(CLAUDE_VERSION)
	$(CLAUDE_BIN) --version | grep -q '^$(CLAUDE_VERSION) '
	touch $@

# Debian packages the tests and the stack run: PostgreSQL (the stores' tests start their own throwaway server
# on 127.0.0.1), bubblewrap and socat (`ramparts sandbox`, `mcp wrap`, and Claude Code's own Bash sandbox: the
# compiled settings set failIfUnavailable, so without them the CLI refuses to start), strace (the shell
# oracle traces real bash with it), tinyproxy (the baseline bench/egress.py measures the proxy against),
# chromium (the dashboard's browser tests: Playwright drives Debian's headless Chromium, no browser download),
# squid-openssl (the egress export tests parse the squid ACL with `squid -k parse`; the openssl build
# knows ssl::server_name; its service is not started).
DEBIAN_PACKAGES := postgresql bubblewrap socat strace tinyproxy chromium squid-openssl
$(TOOLS)/.installed-debian:
	@echo "==> [3/4] Debian packages when missing: $(DEBIAN_PACKAGES) (apt-get)"
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; fi
	mkdir -p $(TOOLS) && touch $@

# checkov scans the compiled Terraform in the tests; it pins old versions of boto3 and others, so it lives in a
# venv of its own (the tests find it at .tools/checkov/bin/checkov, or $$RAMPARTS_CHECKOV).
$(TOOLS)/.installed-checkov:
	@echo "==> [4/4] checkov in $(TOOLS)/checkov (pip; for the Terraform checks in the tests)"
	$(PYTHON) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/pip install --quiet 'checkov>=3.2'
	touch $@

deps: $(VENV)/.installed $(TOOLS)/.installed-$(CLAUDE_VERSION) $(TOOLS)/.installed-debian $(TOOLS)/.installed-checkov

# The whole stack on 127.0.0.1 (ramparts up: control plane + dashboard on SQLite, gateway, egress proxy,
# agents, demo Claude Code sessions reporting to them); Ctrl-C stops it. UP_FLAGS=--exit-after-demo: CI's run.
UP_DIR ?= .state/up
UP_LISTEN ?= 127.0.0.1:8790
up: deps
	$(VENV)/bin/ramparts up --dir $(UP_DIR) --listen $(UP_LISTEN) --claude-bin $(RAMPARTS_CLAUDE_BIN) $(UP_FLAGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy --strict src

# The whole suite under coverage, on every core (pytest-xdist; PYTEST_WORKERS overrides); the engine, its
# controls, the rule matcher and the gateway's decisions stay at 100 % branch coverage.
PYTEST_WORKERS ?= auto
COVERED := */ramparts/engine.py,*/ramparts/controls.py,*/ramparts/policy/rules.py,*/ramparts/gateway/decide.py
COVERED := $(COVERED),*/ramparts/egress/classify.py,*/ramparts/egress/acl.py
test: deps lint typecheck
	$(VENV)/bin/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup --cov=ramparts --cov-branch --cov-report=
	$(VENV)/bin/coverage report --include='$(COVERED)' --fail-under=100

bench: deps
	for b in bench/*.py; do $(VENV)/bin/python $$b --quick || exit 1; done

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
