# The trace archive benchmark (issue 12, bench/replay.py): ~100 million pings written, compacted
# and queried, the same queries on PostgreSQL 15 + PostGIS (20 million pings) in the same run.
# Needs the PostgreSQL of `make services` and Debian's PostGIS (scripts/postgis.sh installs it).
# About 40 minutes on 2 cores; BENCH_REPLAY_ARGS="--vehicles 300 --nights 2 --pg-pings 300000"
# is a quick look. The result: out/bench/replay.json.
BENCH_REPLAY_ARGS ?=

.PHONY: bench-replay

bench-replay: services
	bash scripts/postgis.sh
	mkdir -p out/bench
	$(BIN)/python -m bench.replay $(BENCH_REPLAY_ARGS) --out out/bench/replay.json

# Issue 15: the stream, websocket and engine benches, each stamped (commit, dirty paths, load
# average at start and end) with its baseline and correctness check in the same run. The
# defaults are the modest sizes docs/benchmarks.md reports on the shared 2-core machine; the
# targets' full sizes are in each bench's --help. Results: out/bench/<name>.json and .txt
# (the text table); a bench whose correctness check fails exits 1.
BENCH_STREAM_ARGS ?= --rounds 2
BENCH_WS_ARGS ?= --vehicles 10000 --map-clients 250 --alert-clients 25 --seconds 20 --rounds 2
BENCH_ENGINE_ARGS ?= --vehicles 2000 --hours 2 --repeat 3

.PHONY: bench-stream bench-ws bench-engine

bench-stream: services
	mkdir -p out/bench
	$(BIN)/python -m bench.stream $(BENCH_STREAM_ARGS) --out out/bench/stream.json > out/bench/stream.txt; \
	  status=$$?; cat out/bench/stream.txt; exit $$status

bench-ws:
	mkdir -p out/bench
	$(BIN)/python -m bench.ws $(BENCH_WS_ARGS) --out out/bench/ws.json > out/bench/ws.txt; \
	  status=$$?; cat out/bench/ws.txt; exit $$status

bench-engine:
	mkdir -p out/bench
	$(BIN)/python -m bench.engine $(BENCH_ENGINE_ARGS) --json > out/bench/engine.json
	$(BIN)/python -c "import json, bench.engine as e; print(e._text(json.load(open('out/bench/engine.json'))))" | tee out/bench/engine.txt
