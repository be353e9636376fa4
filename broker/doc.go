// Package broker fans Server-Sent Events out to many subscribers by topic,
// encoding each event once, and lets a reconnecting client resume from its
// Last-Event-ID without loss or duplication.
//
// The contract:
//
//   - [Broker.Publish] gives the event an id when it has none, encodes it
//     once, appends it to the topic's bounded log and hands the same bytes to
//     every subscriber of the topic, in every process sharing the [Backend].
//   - Ids have the form "ms-seq" (see [ID]): Unix milliseconds and a sequence
//     within the millisecond, the form of Redis stream ids. They grow across
//     all topics of a backend, so one Last-Event-ID places a client in every
//     topic it reads.
//   - [Broker.Subscribe] returns a [Subscription], a [core.EventTarget] that a
//     handler returns. Subscribing is synchronous: an event published after
//     Subscribe returns is never missed. With a Last-Event-ID, the events the
//     topics logged after it come first, merged in id order across topics,
//     then live ones, with no gap and no duplicate: every subscriber sees a
//     strictly increasing sequence of ids. An empty Last-Event-ID means live
//     events only.
//   - The log is bounded by count and by age ([MemoryOptions]; age is
//     enforced by a timer too, so an idle log is released). When a client's
//     Last-Event-ID is older than the log, beyond every id the backend holds
//     (a process restarted with its clock behind, a Redis restored from an
//     older snapshot, a forged id), or not a broker id, it first receives
//     the [ResetEvent] signal ("ssekit-reset", empty data, no id) and then
//     what the log still holds and live events: never a silent loss, never
//     a silent stall.
//   - Ids never wrap around: past "18446744073709551615-18446744073709551615"
//     Publish fails with [ErrIDSpace].
//   - When the backend is unreachable, Subscribe fails with an error that
//     matches [ErrUnavailable] and [core.ErrShutdown]: the adapters answer
//     it with 200, a jittered "retry:" under 1.5 s and the end of the
//     stream, so browsers keep reconnecting (with their Last-Event-ID)
//     until it is back, instead of giving up on a 503.
//   - Each subscriber has a bounded queue of references to shared frames and
//     no goroutine of its own; fan-out never blocks. A subscriber whose queue
//     overflows is disconnected ([ErrSlowSubscriber]; its client resumes with
//     Last-Event-ID) or, with [DropOldest], loses its oldest queued events.
//     A stalled client never delays the others.
//   - An event named "close" ([CloseEvent]) ends the stream of every
//     subscriber of its topic after it is written, as in Danet, unless
//     [Options.KeepOpenOnClose] is set.
//   - [Options.Authorize] decides who may read which topic; a refusal is an
//     error that answers 403 through the adapters (see [core.StatusOf]).
//   - [Broker.Shutdown] refuses new work, ends every stream after what is
//     queued, waits until all have ended and closes the backend.
//   - [Options.Observer] hears of subscriptions joining and leaving topics,
//     publishes, fan-out, replays, slow subscribers and the backend's feed
//     failing and recovering (metrics, logs, hooks); [Broker.Presence] says
//     which topics have subscribers on this instance and how many, and
//     [Broker.ClusterPresence] the same across the instances sharing a
//     Redis backend.
//
// The in-memory backend ([Memory]) is the default and needs nothing else.
// For several server processes, github.com/ssekit/ssekit/broker/redis keeps
// the logs in Redis Streams: an event published on one instance reaches the
// subscribers of every instance, and a client resumes on any of them.
//
// Serving a topic with net/http:
//
//	b := broker.New(broker.Options{})
//	http.Handle("/events", nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
//		return b.Subscribe(r.Context(), []string{"news"}, nethttpsse.LastEventID(r))
//	}))
//	// elsewhere: b.Publish(ctx, "news", core.Message{Event: "headline", Data: h})
package broker
