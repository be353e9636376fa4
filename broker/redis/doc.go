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
// While Redis stays unreachable, Subscribe fails with an error matching
// broker.ErrUnavailable and core.ErrShutdown, which the adapters answer
// with 200 and a retry under 1.5 s: browsers keep reconnecting with their
// Last-Event-ID until Redis is back.
//
// Failures it is built for:
//
//   - Retried scripts: the backend sends the append script again after a
//     read timeout (as go-redis would, up to MaxRetries), and a Redis that
//     was only slow (paused, swapping) runs both copies. Each Publish carries a random token that the append
//     script records for Options.Dedup (one key per publish): a copy finds
//     it and returns the first copy's id, so an event is appended once. A
//     Publish that returns an error may still have been appended (once).
//   - Retried scripts across a loss: the token of a copy appended before
//     Redis lost it is lost too, so a later copy would append the event
//     again, and the subscribers that received the first copy would get it
//     twice. So go-redis never sends the append script again (the command
//     says NoRetry); the backend does, up to the client's MaxRetries, and
//     marks it as a retry, with the Redis process (run_id) and the
//     generation ("{prefix}:gen", changed at every loss found) its instance
//     knew before the first copy. A retry that finds its token returns the
//     first copy's id; one that does not, where the process or the
//     generation changed since, is refused: Publish returns
//     ErrHistoryChanged. A first copy is never refused.
//   - Lost writes: replication is asynchronous, so a failover can promote a
//     replica that misses acknowledged events, and a restart restores the
//     last snapshot or AOF. Each instance remembers the greatest id it saw
//     in Redis; when Redis holds less ("{prefix}:last" went backwards), the
//     next script to run on that instance records the greatest lost id in
//     "{prefix}:lost" and raises "last" to it. Clients behind the lost ids,
//     and clients whose Last-Event-ID is beyond "last", get
//     broker.ResetEvent; ids go on above every id seen, so none is given
//     twice for two events (unless every instance that saw the lost ids
//     restarted too, and Redis's clock is behind them).
//   - Ids are computed as decimal strings in Lua, never as doubles: they
//     stay exact up to 2^64-1, carry from the sequence into the
//     millisecond, and past the greatest id Publish fails with
//     broker.ErrIDSpace.
//
// Presence ([broker.Broker.ClusterPresence]): every PresenceInterval (5 s
// by default) each instance that has subscribers replaces a hash
// "{prefix}:presence:<instance>" (topic → its local subscribers, expiring
// after three intervals) and lists itself in the set "{prefix}:presence";
// Close removes both. Reading sums every listed instance's hash (one
// SMEMBERS, one pipelined HGETALL per instance) with this instance's own
// counts, which are exact. Another instance's counts are at most one
// interval old while it runs, and those of an instance that died without
// Close linger up to three intervals. Writing costs each instance one
// MULTI of O(its topics) per interval.
//
// The broker's Observer hears of the feed failing (FeedFailed, every time a
// read fails) and recovering (FeedRecovered, at the first read that
// succeeds after a failure).
//
// Topologies (pass any go-redis UniversalClient to [New]):
//
//   - Single node (redis.NewClient): exact resumption; with persistence
//     off, or after a restore from an older snapshot, clients get the reset
//     signal for what Redis lost, never a silent gap.
//   - Sentinel (redis.NewFailoverClient): after a failover the feed fails
//     over too (subscribers reconnect and resume). What the promoted
//     replica had not received is lost; clients are told (reset) as above.
//     Options.Replicas makes Publish WAIT for that many replicas, so that a
//     successful Publish survives the failover of its primary when a
//     replica that acknowledged it is promoted (Sentinel promotes the
//     most up-to-date one); WAIT does not make Redis strongly consistent.
//   - Cluster (redis.NewClusterClient): every key shares the hash tag
//     {prefix}, so the scripts and the multi-stream XREAD run in one slot:
//     one prefix lives on one primary, and its throughput is that of one
//     Redis node (not measured on a cluster here); use several prefixes
//     (one broker each) to spread load. Failover within the cluster behaves
//     as with Sentinel.
package redisbroker
