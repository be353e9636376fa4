package core

import (
	"math/rand/v2"
	"strconv"
)

// Refusal returns the body of the answer to a stream asked for while the
// server shuts down (see [Options.Closing]; a handler error matching
// [ErrShutdown], such as a broker's after its Shutdown, is answered the same
// way): a comment and a "retry:" between 500 ms and 1.5 s, chosen at random so
// that the clients of a draining instance come back spread out. Adapters send
// it with status 200 and the [Header] headers, closing an HTTP/1 connection
// ("Connection: close"), so that the client reconnects, through the load
// balancer, to a live instance. Any
// other answer would strand browsers: an EventSource treats a non-200 status
// as final and never reconnects.
//
// The retry value stays in force in the client until the next stream sends
// its own "retry:" field.
func Refusal() []byte {
	ms := 500 + rand.IntN(1000)
	b := make([]byte, 0, 40)
	b = append(b, ": shutting down\nretry: "...)
	b = strconv.AppendInt(b, int64(ms), 10)
	return append(b, "\n\n"...)
}
