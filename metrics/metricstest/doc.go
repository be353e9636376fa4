// Package metricstest holds the tests that read ssekit's metrics back, through
// each library's own test readers (Prometheus' registry and testutil,
// OpenTelemetry's ManualReader), after real streams on several adapters
// (net/http, Gin, Echo, Fiber): streams that end normally, clients that
// disconnect, clients that stall, slow broker subscribers, handler errors and
// shutdowns. It is a module of its own, so that the metrics modules do not
// require the frameworks; it is not a product and has no API.
package metricstest
