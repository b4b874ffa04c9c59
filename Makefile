# Every target sets itself up: a fresh machine needs only python3, pip and gcc.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo bench check-wheels clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip==25.3
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/tinyenroll demo $(if $(PORT),--port $(PORT)) $(if $(BOARD),--board $(BOARD))

bench: $(STAMP)
	$(BIN)/tinyenroll bench

# every pinned dependency resolves to wheels on Windows, macOS and Linux (x86-64 and ARM), Python 3.11-3.14
check-wheels: $(STAMP)
	$(BIN)/python .ci/check_wheels.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
