package core

import (
	"math/rand/v2"
	"strconv"
)

// refusal returns the body of the answer to a stream asked for while the
// server shuts down: a comment and a "retry:" between 500 ms and 1.5 s, chosen
// at random so that the clients of a draining instance come back spread out.
// adapter.Refusal exports it, with the contract.
func refusal() []byte {
	ms := 500 + rand.IntN(1000)
	b := make([]byte, 0, 40)
	b = append(b, ": shutting down\nretry: "...)
	b = strconv.AppendInt(b, int64(ms), 10)
	return append(b, "\n\n"...)
}
