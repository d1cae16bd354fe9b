# Residency-evaluation analytics. `make help` lists the targets.
# Everything runs inside .venv, created on first use from pyproject.toml.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
KERNEL := residency

.DEFAULT_GOAL := help
.PHONY: help report test lab reference demo clean-outputs install processed bench validate notebooks

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (residency)" >/dev/null
	@touch $(STAMP)

install: $(STAMP)  ## create .venv (if missing) and install the package with test tools

report: $(STAMP)  ## the main job on the demo data: raw → processed → analyses → reports/
	$(BIN)/python -m analysis run

processed: $(STAMP)  ## clean the demo data into data/processed (only when missing or older than the raw files)
	@if [ ! -f data/processed/panel.parquet ] || [ -n "$$(find data/raw/demo src/analysis -newer data/processed/panel.parquet -type f | head -1)" ]; then \
		$(BIN)/python -m analysis clean --quiet; \
	else echo "data/processed is up to date"; fi

test: processed  ## every test: unit, property, reference comparisons and notebooks (nbval)
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

notebooks: processed  ## re-execute the notebooks in place on the demo data (commit the outputs; nbval checks them)
	@for n in notebooks/0*.ipynb; do echo "executing $$n"; \
		$(BIN)/jupyter nbconvert --to notebook --execute --inplace --log-level=WARN \
			--ExecutePreprocessor.kernel_name=$(KERNEL) --ExecutePreprocessor.record_timing=False "$$n" || exit 1; \
	done

lab: $(STAMP)  ## JupyterLab on the project's kernel
	$(BIN)/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

reference: $(STAMP)  ## rebuild data/reference/ from the public code books (the test extras include them)
	$(BIN)/python -m analysis reference

demo: $(STAMP)  ## regenerate the bundled demo data (data/raw/demo) with the default seed
	$(BIN)/python -m analysis demo --out data/raw/demo

bench: $(STAMP)  ## performance comparisons (on demand, not in CI): DiD vs csdid/differences, ingest vs pandas
	$(BIN)/python benchmarks/bench_did.py
	$(BIN)/python benchmarks/bench_ingest.py

validate: $(STAMP)  ## Monte-Carlo validation of the estimators (slow; results go into docs/did.md)
	$(BIN)/python validation/mc_did.py --reps 2000

clean-outputs:  ## delete generated data and reports (raw data is never touched)
	find data/processed reports -mindepth 1 ! -name .gitkeep -delete
