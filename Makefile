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
# chromium (the dashboard's browser tests: Playwright drives Debian's headless Chromium, no browser download).
DEBIAN_PACKAGES := postgresql bubblewrap socat strace tinyproxy chromium
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

up: deps
	@echo "==> installed; running the guarded demo session"
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
