// Package metricseries is the bookkeeping the metrics exporters
// (metrics/promsse, metrics/otelsse) share: series bound once per key
// ([Cache]), and broker topics mapped to a bounded set of label values
// ([Topics]).
package metricseries
