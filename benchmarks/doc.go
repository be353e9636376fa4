// Package benchmarks measures ssekit against the ways people stream
// Server-Sent Events without it. Its Go benchmarks (run with -bench) cover
// encoding, burst throughput and lone-event latency on one stream; the
// sseload command covers idle memory and connection churn in a separate
// process; the fanout command covers the fan-out of events to 10,000
// subscribers (ssekit's broker against go-sse, r3labs/sse and a hand-written
// broadcast); the report command turns all three into the README table and
// chart. See run.sh.
package benchmarks
