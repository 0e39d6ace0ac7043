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
