PYTHON ?= python3

.PHONY: all setup test docs reference bench clean

all: reference

# Everything a fresh machine needs (apt + pip); quick when already installed.
setup:
	bash .ci/install

# Build the reference architecture end to end: checks, configs, diagrams, HTML docs.
reference: setup
	hamodel check models/openstack_keepalived.py
	hamodel build models/openstack_keepalived.py -o out/openstack_keepalived
	$(MAKE) docs

test: setup
	$(PYTHON) -m pytest -q

docs:
	$(PYTHON) -m sphinx -W --keep-going -b html docs docs/_build/html

bench:
	$(PYTHON) benchmarks/bench_placement.py
	$(PYTHON) benchmarks/bench_analysis.py

clean:
	rm -rf out docs/_build docs/generated
