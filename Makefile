# marketreact — every target creates or refreshes .venv itself, so each works on a fresh machine.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
SHARED  ?= ../shared/data
SEEDS   ?= ../shared/seeds
OUT     ?= results

.PHONY: venv demo demo-article demo-intraday test test-all lint bench validate validate-intraday clean \
        report-check docs fed-tables

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev,garch,dask,lm]"
	touch $(STAMP)

venv: $(STAMP)

## The GoTo–TikTok event study end to end (offline on ../shared/data when present, Yahoo otherwise).
demo: venv
	@if [ -d "$(SHARED)/prices" ]; then prices="csv:$(SHARED)/prices"; else prices="yahoo"; fi; \
	echo "prices: $$prices"; \
	$(BIN)/marketreact study data/events/goto_tiktok.csv --prices "$$prices" --out $(OUT)/goto --plots
	$(BIN)/marketreact report $(OUT)/goto

## From the seed article to a study: extract -> verify -> study (offline when ../shared is present;
## without it, the project's own retelling of the story and Yahoo prices).
demo-article: venv
	@article=$$(ls $(SEEDS)/0*.txt 2>/dev/null | head -n 1); \
	if [ -z "$$article" ]; then article=data/articles/goto_tiktok_sample.txt; \
		echo "no seed article in $(SEEDS): using $$article"; fi; \
	if [ -d "$(SHARED)/prices" ]; then prices="csv:$(SHARED)/prices"; else prices="yahoo"; fi; \
	echo "article: $$article"; echo "prices: $$prices"; \
	$(BIN)/marketreact extract "$$article" --published 2023-12-05 --timing intra \
		--timing-exchange XIDX --event-prefix seed --out $(OUT)/article/extract && \
	$(BIN)/marketreact verify $(OUT)/article/extract/claims.csv --prices "$$prices" \
		--out $(OUT)/article/verify && \
	$(BIN)/marketreact study $(OUT)/article/extract/events.csv --prices "$$prices" \
		--out $(OUT)/article/study

## The default test run (a few minutes at most; no network).
test: venv
	$(BIN)/python -m pytest -q -m "not slow"

## Everything, slow tests included.
test-all: venv
	$(BIN)/python -m pytest -q

lint: venv
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests || true
	$(BIN)/mypy

## The daily study at 10k/100k/1M events and the backtest (bench.py), a 10,000-event hourly
## intraday study (bench_intraday.py) and writing results at 25k-200k events plus the CLI
## against the library (bench_write.py).
bench: venv
	$(BIN)/python benchmarks/bench.py
	@if [ -d "$(SHARED)/intraday" ]; then \
		$(BIN)/python benchmarks/bench_intraday.py --data $(SHARED)/intraday --repeat 3; \
	else echo "no $(SHARED)/intraday: intraday bench left out"; fi
	$(BIN)/python benchmarks/bench_write.py

## Size and power of every cross-event test by simulation on the real panels (~2 min; docs/validation.md).
validate: venv
	$(BIN)/marketreact validate --prices $(SHARED)/prices --out validation --report docs/validation.md

## The same for intraday studies: random news times on the shared hourly bars (~30 s).
validate-intraday: venv
	$(BIN)/marketreact validate --mode intraday --prices csv:$(SHARED)/intraday \
		--samples 1000 --events 50 --out validation-intraday --report docs/validation.md

clean:
	rm -rf $(OUT) .pytest_cache .mypy_cache .ruff_cache

## Render the GoTo HTML report in a real headless browser (Debian's chromium, installed here if
## missing, never at run time) and check that it loaded with its tables and images.
CHROMIUM ?= $(shell command -v chromium || command -v chromium-browser)
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
report-check: venv
	@if [ -z "$(CHROMIUM)" ]; then \
	  echo "installing Debian's chromium"; \
	  $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium; \
	fi
	MARKETREACT_REQUIRE_CHROMIUM=1 $(BIN)/python -m pytest -q -p no:cacheprovider \
	  tests/output/test_report_browser.py

## Regenerate docs/cli.md from the commands' --help (run after adding or changing a command).
docs: venv
	$(BIN)/python -m marketreact.cli.docs --output docs/cli.md

## Intraday event studies on the shared Lean bars: Fed rate decisions 2003-2020 on hourly bars
## (BAC, AIG, IBM, AAPL against SPY) and the FOMC minutes of 2013-10-09 14:00 on minute bars.
demo-intraday: venv
	$(BIN)/marketreact intraday data/events/fed_rate_decisions_intraday.csv \
		--prices csv:$(SHARED)/intraday --interval 1h --window -3:3 --market SPY \
		--out $(OUT)/intraday/fed --plots
	$(BIN)/marketreact intraday data/events/fomc_minutes_2013_10_09.csv \
		--prices csv:$(SHARED)/intraday --interval 1m --window -10:30 --car 0:0 --car 0:5 \
		--car 0:30 --estimation-sessions 3 --market SPY --out $(OUT)/intraday/minutes --plots

## Print the Fed rate-decision tables of docs/intraday.md (docs/examples/fed_tables.py, ~5 s).
fed-tables: venv
	$(BIN)/python docs/examples/fed_tables.py $(SHARED)/intraday
