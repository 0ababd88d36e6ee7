# Two entry points set up everything they need on a fresh Debian machine:
#   make build   verify the catalog, build the site and both PDFs into build/
#   make test    the whole test suite (lint included)
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
export MATDERIV_CACHE ?= $(CURDIR)/build/cache
export NO_MKDOCS_2_WARNING := 1

NODE_STAMP := node_modules/.installed

.PHONY: build test lint verify bench deps-apt clean

$(STAMP): pyproject.toml requirements.lock setup.py
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# KaTeX for build-time math, pinned by package-lock.json.
$(NODE_STAMP): package.json package-lock.json | deps-apt
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian packages (TeX Live for the PDFs, chromium for browser tests), installed when missing.
deps-apt:
	@missing=""; \
	command -v latexmk >/dev/null || missing="$$missing texlive-latex-base texlive-latex-recommended latexmk"; \
	command -v pdftoppm >/dev/null || missing="$$missing poppler-utils"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo"; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

verify: $(STAMP)
	$(BIN)/matderiv verify

build: $(STAMP) deps-apt $(NODE_STAMP)
	$(BIN)/matderiv build

lint: $(STAMP)
	$(BIN)/ruff check gen tests

test: $(STAMP) deps-apt $(NODE_STAMP) lint
	$(BIN)/pytest -n 2 -q

bench: $(STAMP) deps-apt $(NODE_STAMP)
	$(BIN)/python -m matderiv.commands.bench
	$(BIN)/python -m matderiv.commands.bench_site
	$(BIN)/python -m matderiv.symbolic.bench

clean:
	rm -rf build
