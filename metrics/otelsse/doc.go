// Package otelsse exports ssekit's stream and broker metrics through the
// OpenTelemetry metric API, so any exporter works (OTLP, Prometheus, stdout).
// It is its own module, so that the rest of ssekit stays free of
// OpenTelemetry.
//
// One [Metrics] value is both a core.Observer, for the adapters, and a
// broker.Observer, for the broker:
//
//	m, err := otelsse.New(otel.GetMeterProvider(), otelsse.Options{})
//	b := broker.New(broker.Options{Observer: m})
//	e.GET("/events/:room", echosse.Handle(h, core.WithObserver(m)))
//
// Stream instruments carry the attributes ssekit.adapter and ssekit.route
// (the framework's route pattern, or core.WithRoute); broker instruments
// carry ssekit.topic, mapped through Options.Topic and capped at
// Options.MaxTopics distinct values. The instruments (meter
// "github.com/ssekit/ssekit/metrics/otelsse"):
//
//	ssekit.streams.open          up-down counter  {stream}
//	ssekit.streams.started       counter          {stream}
//	ssekit.streams.ended         counter          {stream}, with ssekit.reason (a core.EndReason)
//	ssekit.streams.rejected      counter          {request}, with ssekit.reason
//	ssekit.stream.duration       histogram        s
//	ssekit.events.written        counter          {event}   (observed)
//	ssekit.bytes.written         counter          By        (observed; events and heartbeats)
//	ssekit.flushes               counter          {flush}   (observed; batches, headers, heartbeats)
//	ssekit.heartbeats            counter          {heartbeat} (observed)
//	ssekit.dispatch.wait         histogram        s
//	ssekit.broker.subscribers    up-down counter  {subscriber} (this instance)
//	ssekit.broker.published      counter          {event}, with ssekit.result (ok, error)
//	ssekit.broker.deliveries     counter          {delivery}
//	ssekit.broker.slow_drops     counter          {subscriber}
//	ssekit.broker.replays        counter          {subscription}, with ssekit.reset
//	ssekit.broker.replayed       counter          {event}
//	ssekit.broker.feed.failures  counter          {failure}
//	ssekit.broker.feed.recoveries counter         {recovery}
//
// The per-flush figures (events, bytes, flushes, heartbeats) are atomic
// adds on counters bound when a stream starts, reported to OpenTelemetry by
// an observable-counter callback at each collection: the stream loop makes
// no OpenTelemetry call per flush.
package otelsse
