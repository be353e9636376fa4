#!/usr/bin/env bash
# benchmarks/run.sh: every benchmark, in sequence, in one run, then the
# README table. Writes benchmarks/results/{bench.txt,benchstat.txt,load.json,
# table.md,chart.svg}. About 5 minutes on 2 cores.
#
#   bash benchmarks/run.sh            # COUNT=6 runs of each (medians)
#   COUNT=3 BURST_EVENTS=200000 bash benchmarks/run.sh   # quicker
#
# Close other work first: every figure is measured on this machine's cores,
# and the ratios only hold within one run.
set -euo pipefail
cd "$(dirname "$0")"

COUNT=${COUNT:-6}               # runs of each benchmark (benchstat needs 6); the report takes medians
BURST_EVENTS=${BURST_EVENTS:-1000000}
LONE_EVENTS=${LONE_EVENTS:-500}
IDLE_STREAMS=${IDLE_STREAMS:-2000}
CHURN_CYCLES=${CHURN_CYCLES:-10000}
BENCHSTAT=${BENCHSTAT:-golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da}

out=results
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
mkdir -p "$out"
start=$SECONDS
step() { printf '== %s (%ds)\n' "$*" $((SECONDS - start)) >&2; }

step "build"
go test -c -o "$bin/bench.test" .
go build -o "$bin/sseload" ./cmd/sseload

# One binary, three workloads, appended to one file.
bench() { "$bin/bench.test" -test.run '^$' -test.count "$COUNT" -test.benchmem "$@"; }
step "encode (go test -bench Encode -benchmem -count $COUNT)"
bench -test.bench '^BenchmarkEncode$' -test.benchtime 0.5s | tee "$out/bench.txt"
step "burst: $BURST_EVENTS events per run"
bench -test.bench '^BenchmarkBurst$' -test.benchtime "${BURST_EVENTS}x" | grep '^Benchmark' | tee -a "$out/bench.txt"
step "lone events: $LONE_EVENTS per run, 2 ms apart"
bench -test.bench '^BenchmarkLatency$' -test.benchtime "${LONE_EVENTS}x" | grep '^Benchmark' | tee -a "$out/bench.txt"

step "idle and churn (sseload, servers in child processes)"
"$bin/sseload" -runs "$COUNT" -streams "$IDLE_STREAMS" -cycles "$CHURN_CYCLES" -out "$out/load.json"

step "benchstat"
if ! go run "$BENCHSTAT" "$out/bench.txt" >"$out/benchstat.txt" 2>"$bin/benchstat.err"; then
	echo "benchstat unavailable (module proxy?): $(tail -1 "$bin/benchstat.err")" | tee "$out/benchstat.txt" >&2
fi

step "report"
go run ./cmd/report -bench "$out/bench.txt" -load "$out/load.json" -md "$out/table.md" -svg "$out/chart.svg"
cat "$out/table.md"
step "done"
