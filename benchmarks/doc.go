// Package benchmarks measures ssekit against the ways people stream
// Server-Sent Events without it. Its Go benchmarks (run with -bench) cover
// encoding, burst throughput and lone-event latency on one stream; the
// sseload command covers idle memory and connection churn in a separate
// process; the report command turns both into the README table. See run.sh.
package benchmarks
