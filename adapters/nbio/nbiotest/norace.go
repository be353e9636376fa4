//go:build !race

package nbiotest

import "github.com/lesismal/nbio/nbhttp"

// RaceShim makes nbhttp's hand-off of each new connection, from the
// accepting goroutine to a poller, visible to the race detector (see the
// package comment). In builds without the race detector, such as this one,
// it does nothing, so it costs nothing outside race builds.
//
// In a race build it sets e's OnOpen handler and its nbio engine's OnData
// handler: both take one lock, and OnData then calls nbhttp's own data
// handler of the connection, so that nothing else changes. Call it before
// e.Start. An OnOpen handler set before it is replaced, and one set after
// it undoes it: do not use it on an engine that needs its own OnOpen.
func RaceShim(*nbhttp.Engine) {}
