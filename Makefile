# `make run` (the bot on the embedded default), `make demo` (a throwaway first look) and
# `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run demo test lint typecheck sandbox-deps browser-deps encoder install bench clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[all,dev,kernels]'
	@touch $@

install: $(STAMP) sandbox-deps browser-deps encoder

# The offline grader's encoder, exported once from its bundled weights to ONNX (kept in the user's
# cache directory), so that the bot's first start and the tests do not wait for it.
encoder: $(STAMP)
	@$(BIN)/python -c "from graders.embeddings import prepare_encoder; print(prepare_encoder())"

# The drill sandbox uses bubblewrap. Installed here when we are root on Debian/Ubuntu;
# elsewhere the README says what to do.
sandbox-deps:
	@if ! command -v bwrap >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing bubblewrap for the drill sandbox"; \
	    (apt-get install -y -q bubblewrap >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q bubblewrap >/dev/null)) || \
	    echo "warning: could not install bubblewrap; drills will be refused until it is installed"; \
	  else \
	    echo "note: bubblewrap (bwrap) is not installed; see README 'Drill sandbox'"; \
	  fi; \
	fi

# The dashboard's browser tests drive Debian's Chromium through Playwright (never a
# downloaded browser build). Installed here when we are root on Debian/Ubuntu.
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium for the dashboard's browser tests"; \
	    (apt-get install -y -q chromium >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null)) || \
	    echo "warning: could not install chromium; the dashboard's browser tests will fail"; \
	  else \
	    echo "note: /usr/bin/chromium is not installed; the dashboard's browser tests need it"; \
	  fi; \
	fi


# doctor stops here on a required failure (exit 1) and goes on after warnings.
run: install
	$(BIN)/studybot db upgrade
	$(BIN)/studybot doctor
	$(BIN)/studybot run

# The console on a throwaway database; day 1 arrives within seconds.
demo: install
	$(BIN)/studybot demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy bot/domain content graders gpu_runner/protocol.py

test: install lint typecheck
	@echo "dashboard screenshots: $(CURDIR)/build/screenshots"
	$(BIN)/pytest
	@echo "dashboard screenshots saved in $(CURDIR)/build/screenshots"

bench: install
	for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info studybot.db studybot.db-*
