# Every target sets itself up: a fresh machine needs only python3, pip and gcc.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the 32-bit MicroPython (webassembly port, npm, pinned in host_tools/board/wasm32.py) for tests/test_32bit.py
WASM := build/wasm/.installed

.PHONY: test demo bench check-wheels clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip==25.3
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

$(WASM): $(STAMP) host_tools/board/wasm32.py
	@if command -v node >/dev/null && command -v npm >/dev/null; then \
		$(BIN)/python -m host_tools.board.wasm32 && touch $@; \
	else \
		echo "note: node/npm not found: tests/test_32bit.py will be skipped (and fail under CI=1)"; \
	fi

test: $(STAMP) $(WASM)
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/tinyenroll demo $(if $(PORT),--port $(PORT)) $(if $(BOARD),--board $(BOARD))

bench: $(STAMP)
	$(BIN)/tinyenroll bench

# every pinned dependency resolves to wheels on Windows, macOS and Linux (x86-64 and ARM), Python 3.11-3.14
check-wheels: $(STAMP)
	$(BIN)/python .ci/check_wheels.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build
