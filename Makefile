# chargespec — the two commands of the README:
#   make demo   installs everything and runs the main job on the embedded spec
#   make test   installs everything and runs the tests
# Everything else here is a step of those two.

VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip
STAMP   := $(VENV)/.installed
SYSDEPS := $(VENV)/.sysdeps-2
APT     := $(shell command -v apt-get 2>/dev/null)
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all install sysdeps demo test test-slow mutate fuzz bench clean

all: test

# System tools: graphviz's `dot` (diagrams), `spin` (Promela cross-check) and Chromium (the
# browser test opens the report headless). Installed from apt only when missing and apt is
# available; otherwise a note.
$(SYSDEPS):
	@mkdir -p $(VENV)
	@missing=""; \
	command -v dot  >/dev/null 2>&1 || missing="$$missing graphviz"; \
	command -v spin >/dev/null 2>&1 || missing="$$missing spin"; \
	{ command -v chromium || command -v chromium-browser || command -v google-chrome \
	  || [ -n "$$CHARGESPEC_BROWSER" ]; } >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ -n "$(APT)" ]; then \
	    echo "installing from apt:$$missing"; \
	    ( $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null ) \
	      || echo "warning: apt-get install$$missing failed; the tests that need them will say so"; \
	  else \
	    echo "note: no apt-get; install$$missing yourself (diagrams, SPIN cross-check, browser test)"; \
	  fi; \
	fi
	@touch $@

sysdeps: $(SYSDEPS)

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test]'
	@touch $@

install: $(STAMP) $(SYSDEPS)

# the four stop modes on the embedded spec, then the report (reports/index.html)
demo: install
	$(VENV)/bin/chargespec demo
	$(VENV)/bin/chargespec report

# the tests, on every core (pytest-xdist: the suite is CPU-bound, and must stay within 4
# minutes on 2 cores); among them tests/test_drift.py: the committed vectors/ and reports/ are
# what the spec generates (`chargespec vectors --check`, `chargespec report --check`)
PYTEST  := $(PY) -m pytest -q -n auto --maxprocesses=4 --dist loadgroup

test: install
	$(PYTEST)

# the long runs: explorations, packaging, and the mutation analysis (mutation.json regenerated
# byte for byte, then every mutant against the committed vectors)
test-slow: install
	$(PYTEST) -m slow
	CHARGESPEC_SITE_EXAMPLES=1500 CHARGESPEC_FUZZ_EXAMPLES=2000 $(PYTEST) \
	  tests/test_dlm_allocator.py tests/test_hardening.py -k "random_sites or surface or mutated"
	$(PY) -m chargespec vectors --check --full
	$(PY) -m chargespec mutate

mutate: install
	$(PY) -m chargespec mutate

# every input surface (YAML, spec, configuration, scenario, DLM site and scenario, --set,
# --adapter, vector files, adapter answers, reference-adapter requests) with 100,000 hostile
# inputs each (the whole spec: 2,000, a third of a second each); prints inputs, clean errors
# and failures per surface, exit 1 on any failure
fuzz: install
	$(PY) tests/inputfuzz.py --examples 100000

bench: install
	$(PY) bench/step_speed.py
	$(PY) bench/explore_speed.py
	$(PY) bench/dlm.py
	$(PY) bench/explore.py
	$(PY) bench/conform.py
	$(PY) bench/mutation.py

clean:
	rm -rf $(VENV) build dist *.egg-info
