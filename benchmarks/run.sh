#!/usr/bin/env bash
# benchmarks/run.sh: every benchmark, in sequence, in one run, then the
# README table. Writes benchmarks/results/{bench.txt,benchstat.txt,load.json,
# fanout.json,table.md,chart.svg}. About 8 minutes on 2 cores.
#
#   bash benchmarks/run.sh            # COUNT=6 runs of each (medians)
#   COUNT=3 BURST_EVENTS=200000 FANOUT_RUNS=1 bash benchmarks/run.sh   # quicker
#
# The fan-out benchmark's Redis subject needs Redis at SSEKIT_REDIS_ADDR
# (default 127.0.0.1:6379), for instance:
#   redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no --daemonize yes
#
# Close other work first: every figure is measured on this machine's cores,
# and the ratios only hold within one run. The load average at the start is
# written into the table.
set -euo pipefail
cd "$(dirname "$0")"

COUNT=${COUNT:-6}               # runs of each benchmark (benchstat needs 6); the report takes medians
BURST_EVENTS=${BURST_EVENTS:-1000000}
LONE_EVENTS=${LONE_EVENTS:-500}
IDLE_STREAMS=${IDLE_STREAMS:-2000}
CHURN_CYCLES=${CHURN_CYCLES:-10000}
FANOUT_N=${FANOUT_N:-10000}     # fan-out subscribers
FANOUT_RUNS=${FANOUT_RUNS:-3}   # rounds of every fan-out implementation (medians)
BENCHSTAT=${BENCHSTAT:-golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da}

out=results
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
mkdir -p "$out"
start=$SECONDS
step() { printf '== %s (%ds)\n' "$*" $((SECONDS - start)) >&2; }

redis=${SSEKIT_REDIS_ADDR:-127.0.0.1:6379}
if ! (exec 3<>"/dev/tcp/${redis%:*}/${redis##*:}") 2>/dev/null; then
	echo "run.sh: no Redis at $redis, which the fan-out benchmark needs; start one with" >&2
	echo "  redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no --daemonize yes" >&2
	echo "or point SSEKIT_REDIS_ADDR at one (host:port)" >&2
	exit 1
fi
loadavg=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || true)
step "load average at the start: ${loadavg:-unknown}"

step "build"
go test -c -o "$bin/bench.test" .
go build -o "$bin/sseload" ./cmd/sseload
go build -o "$bin/fanout" ./cmd/fanout

# One binary, three workloads, appended to one file.
bench() { "$bin/bench.test" -test.run '^$' -test.count "$COUNT" -test.benchmem "$@"; }
step "encode (go test -bench Encode -benchmem -count $COUNT)"
bench -test.bench '^BenchmarkEncode$' -test.benchtime 0.5s | tee "$out/bench.txt"
step "burst: $BURST_EVENTS events per run"
bench -test.bench '^BenchmarkBurst$' -test.benchtime "${BURST_EVENTS}x" | grep '^Benchmark' | tee -a "$out/bench.txt"
step "lone events: $LONE_EVENTS per run, 2 ms apart, $COUNT interleaved rounds"
# Each run measures every subject at once, events taking turns (BenchmarkLatency),
# and rounds repeat it, so that the ratios to the baselines hold under load.
for _ in $(seq "$COUNT"); do
	"$bin/bench.test" -test.run '^$' -test.count 1 -test.benchmem -test.bench '^BenchmarkLatency$' \
		-test.benchtime "${LONE_EVENTS}x" | grep '^Benchmark' | tee -a "$out/bench.txt"
done

step "idle and churn (sseload, servers in child processes)"
"$bin/sseload" -runs "$COUNT" -streams "$IDLE_STREAMS" -cycles "$CHURN_CYCLES" -out "$out/load.json"

step "fan-out to $FANOUT_N subscribers (fanout, $FANOUT_RUNS rounds, servers and clients in child processes)"
rm -f "$out/fanout.json"
fanout_rc=0 # a failed implementation still leaves the others' figures: report them, then fail
"$bin/fanout" -n "$FANOUT_N" -runs "$FANOUT_RUNS" -json "$out/fanout.json" || fanout_rc=$?

step "benchstat"
if ! go run "$BENCHSTAT" "$out/bench.txt" >"$out/benchstat.txt" 2>"$bin/benchstat.err"; then
	echo "benchstat unavailable (module proxy?): $(tail -1 "$bin/benchstat.err")" | tee "$out/benchstat.txt" >&2
fi

step "report"
go run ./cmd/report -bench "$out/bench.txt" -load "$out/load.json" -fanout "$out/fanout.json" \
	-loadavg "$loadavg" -md "$out/table.md" -svg "$out/chart.svg"
cat "$out/table.md"
if [ "$fanout_rc" -ne 0 ]; then
	echo "run.sh: fanout failed (exit $fanout_rc); see its output above and the table" >&2
	exit "$fanout_rc"
fi
step "done"
