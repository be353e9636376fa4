// Package nbiotest helps the tests of programs that serve through the nbio
// adapter (adapters/nbio) on an nbhttp engine run under the race detector.
//
// nbhttp hands each new connection from its accepting goroutine to a poller
// goroutine through epoll, a system call the race detector cannot see, so
// with -race it reports a data race on the connection's fields inside
// nbhttp (such as Conn.RemoteAddr in ServerProcessor.OnComplete) that is
// not one. [RaceShim] makes that hand-off visible to the detector.
package nbiotest
