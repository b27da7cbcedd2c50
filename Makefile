# Two set-up commands for a fresh machine: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app matchmaker
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | md5sum | cut -c1-12)
MODEL_DIR := var/models/multilingual-e5-small
BENCH ?=

.PHONY: run test test-fast install model translations db services browser bench lint clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and pinned: the CPU build lies on disk; an unpinned torch pulls a multi-GB CUDA build.
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

model: install
	$(PY) scripts/build_model.py --output $(MODEL_DIR)

translations: install
	$(PY) scripts/compile_translations.py

db: install translations
	$(FLASK) db-upgrade

run: install model translations db
	$(FLASK) seed
	$(FLASK) serve --host 127.0.0.1 --port 5000

# Start the local services the tests use when they are not running (commands from the machine's notes).
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start || echo "could not start PostgreSQL"
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log || echo "could not start Redis"

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser), and a
# CJK font so pages render (and measure) as they do for a Chinese reader.
browser:
	@command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "wenquanyi\|wqy" || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null) || \
	  echo "could not install chromium and fonts-wqy-microhei"

test: install model translations services browser
	$(PY) -m pytest -q
	TEST_DATABASE=postgresql $(PY) -m pytest -q -m "not browser and not integration" --ignore=tests/engine --ignore=tests/reference

# The inner loop: SQLite only, without the browser, the real worker and the slow model tests.
test-fast: install model translations
	$(PY) -m pytest -q -m "not browser and not integration and not slow"

bench: install model
	@if [ -n "$(BENCH)" ]; then $(PY) benchmarks/$(BENCH).py; \
	else for b in embed query pipeline stats scheduler lexical deltas upload scale; do [ -f benchmarks/$$b.py ] && $(PY) benchmarks/$$b.py; done; fi

lint: install
	$(VENV)/bin/ruff check matchmaker models workers scripts tests benchmarks
	$(VENV)/bin/lint-imports

clean:
	rm -rf var/matchmaker.db* var/index
