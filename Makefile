# Stub Workbench: top-level entry points.
#   make run   set everything up and open the workbench on the sample stub
#   make test  set everything up and run the whole test suite

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
WORKBENCH := $(VENV)/bin/workbench
SAMPLE_ROOT := samples/build/esp
JOBS ?= 2

.PHONY: setup system-deps venv stub samples run test test-all lint unit bench clean

setup: system-deps venv stub samples

system-deps:
	@scripts/system-deps.sh

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

venv: $(VENV)/.installed

stub:
	@$(MAKE) -s -C stub all test-apps

samples: venv stub
	@$(MAKE) -s -C samples WORKBENCH=$(abspath $(WORKBENCH))

run: setup
	$(WORKBENCH) open $(SAMPLE_ROOT)/EFI/BOOT/BOOTX64.EFI

lint: venv
	$(VENV)/bin/ruff check workbench tests bench samples
	$(VENV)/bin/ruff format --check workbench tests bench samples
	$(VENV)/bin/mypy

# Host unit tests of the stub's pure C run first: they are quick and say the most.
test: setup
	@$(MAKE) -s -C stub check
	@$(MAKE) -s -C stub fuzz
	$(VENV)/bin/ruff check workbench tests bench samples
	$(VENV)/bin/ruff format --check workbench tests bench samples
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -n $(JOBS) --dist loadgroup -ra $(PYTEST_ARGS)

# Everything `test` runs, and the cases marked long (over a minute each; see the README).
test-all:
	@$(MAKE) test PYTEST_ARGS='-m "" $(PYTEST_ARGS)'

$(VENV)/.bench-installed: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[test,bench]'
	@touch $@

# Benchmarks are not tests: each prints its figures and ratios against a peer from the same run,
# and writes JSON (and a PNG plot) to bench/results/.
bench: setup $(VENV)/.bench-installed
	$(PY) -m bench.bench_tftp
	$(PY) -m bench.bench_netboot
	$(PY) -m bench.bench_transports
	$(PY) -m bench.bench_layers
	$(PY) -m bench.bench_wire
	$(PY) -m bench.bench_tui
	$(PY) -m bench.bench_inspect
	$(PY) -m bench.bench_boot
	$(PY) -m bench.bench_arch

clean:
	rm -rf stub/build samples/build .stamps
