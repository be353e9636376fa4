// Package promsse exports ssekit's stream and broker metrics to Prometheus
// (client_golang). It is its own module, so that the rest of ssekit stays
// free of Prometheus.
//
// One [Metrics] value is both a core.Observer, for the adapters, and a
// broker.Observer, for the broker, and a prometheus.Collector to register:
//
//	m := promsse.New(promsse.Options{})
//	prometheus.MustRegister(m)
//	b := broker.New(broker.Options{Observer: m})
//	r.GET("/events/:room", ginsse.Handle(h, core.WithObserver(m)))
//	http.Handle("/metrics", promhttp.Handler())
//
// Stream metrics are labelled by adapter and route (the framework's route
// pattern, or core.WithRoute), broker metrics by topic, mapped through
// Options.Topic and capped at Options.MaxTopics distinct values so that
// per-user topics cannot explode the number of series. The names, with the
// default namespace "ssekit":
//
//	ssekit_streams_open{adapter,route}                  gauge
//	ssekit_streams_started_total{adapter,route}         counter
//	ssekit_streams_ended_total{adapter,route,reason}    counter (reason: core.EndReason)
//	ssekit_streams_rejected_total{adapter,route,reason} counter (no stream: handler error, panic, shutdown, HEAD)
//	ssekit_stream_duration_seconds{adapter,route}       histogram
//	ssekit_events_written_total{adapter,route}          counter
//	ssekit_bytes_written_total{adapter,route}           counter (events and heartbeats)
//	ssekit_flushes_total{adapter,route}                 counter (event batches, headers and heartbeats)
//	ssekit_heartbeats_total{adapter,route}              counter
//	ssekit_dispatch_wait_seconds{adapter,route}         histogram (a Dispatch waiting for a slow client)
//	ssekit_broker_subscribers{topic}                    gauge (this instance)
//	ssekit_broker_published_total{topic,result}         counter (result: ok, error)
//	ssekit_broker_deliveries_total{topic}               counter (event × local subscriber)
//	ssekit_broker_slow_drops_total{topic}               counter (subscribers too slow for an event)
//	ssekit_broker_replays_total{reset}                  counter (resuming subscriptions)
//	ssekit_broker_replayed_events_total                 counter
//	ssekit_broker_feed_failures_total                   counter (Redis feed broke)
//	ssekit_broker_feed_recoveries_total                 counter
//
// The per-event paths add to counters bound when a stream starts: a few
// atomic adds per flush, no allocation, no map lookup.
package promsse
