package nbiosse

import "net"

// OnStream sets a hook called with each new stream's count of bytes handed
// to its connection and not yet sent; nil removes it. Set it before the
// engine serves and remove it after the engine stopped.
func OnStream(f func(pending func() int64)) { onStream = f }

// OnHijack sets a hook called with each stream's connection once the stream
// has taken it over; nil removes it. Set it before the engine serves and
// remove it after the engine stopped.
func OnHijack(f func(c net.Conn)) { onHijack = f }

// LowWater is the pending bytes below which a stream drains again.
const LowWater = lowWater

// Workers is the most streams the worker pool runs at once.
var Workers = pool.max
