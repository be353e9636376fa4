// Package redisbroker is a [broker.Backend] on Redis Streams, for running
// the ssekit broker in more than one server process: an event published on
// any instance reaches the subscribers of every instance, and a client
// resumes with Last-Event-ID on whichever instance it reconnects to.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	b := broker.New(broker.Options{Backend: redisbroker.New(rdb, redisbroker.Options{})})
//	defer b.Shutdown(ctx) // closes the backend, not rdb
//
// How it maps onto Redis (7.0 or later):
//
//   - Each topic is a stream, "{prefix}:t:<topic>". Publish runs one Lua
//     script that draws the next id from "{prefix}:last", shared by every
//     topic and every instance ("ms-seq" from the Redis server's clock, so
//     ids are global and monotonic), XADDs the encoded event under that id,
//     and trims the stream to MaxLen entries (MAXLEN) and MaxAge (MINID),
//     recording the greatest id it dropped so that a client behind it gets
//     the broker.ResetEvent signal instead of a silent gap. The stream id
//     is the event id.
//   - Each instance runs one goroutine with one blocking XREAD over the
//     streams of every topic that has local subscribers (not one XREAD per
//     topic), from a single cursor. Because ids are global and each XREAD
//     sees a consistent moment, its replies merge into one feed in id
//     order: a subscriber of several topics sees increasing ids, so one
//     Last-Event-ID resumes all of them exactly. It also needs only one
//     connection, whatever the number of topics (each XREAD lists them
//     all, so thousands of topics per instance cost bandwidth on every
//     read). A private wake stream, "{prefix}:wake:<instance>", interrupts
//     the XREAD when a topic gets its first subscriber and at Close.
//   - Replay is a second script that reads every subscribed topic after the
//     client's id at one moment.
//   - Every key shares the hash tag {prefix}, so the scripts and the
//     multi-stream XREAD also run on Redis Cluster (in one slot).
//
// When the feed fails (Redis unreachable, connection lost), every local
// subscription ends with the error so that clients reconnect and resume;
// the goroutine keeps retrying with backoff until the broker shuts down.
// While Redis stays unreachable, Subscribe answers 503 (a browser's
// EventSource does not retry after a non-200 answer: reconnect from its
// error handler).
//
// Topic streams are never expired: delete them yourself when topics are
// transient. Age is measured from the id's ms part, so ids a publisher
// supplies should be Unix milliseconds when MaxAge applies.
package redisbroker
