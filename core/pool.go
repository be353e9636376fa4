package core

import "sync"

// Write buffers are pooled by size class, so that idle streams keep none and
// a new target never holds a large buffer for a small queue: getBuf hands out
// only the smallest class, and a queue that fills up moves to a buffer of the
// next class (grow), which a burst then reuses instead of growing by append.
var (
	classSize = [...]int{4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20}
	pools     [len(classSize)]sync.Pool
)

// maxPooled is the largest capacity kept: a buffer that grew past it for a
// huge event is left to the GC.
const maxPooled = 8 << 20

// getBuf returns an empty buffer of the smallest class.
func getBuf() *[]byte { return getClass(0) }

func getClass(i int) *[]byte {
	if bp, ok := pools[i].Get().(*[]byte); ok {
		return bp
	}
	b := make([]byte, 0, classSize[i])
	return &b
}

// putBuf returns bp to the pool of the largest class its capacity holds.
func putBuf(bp *[]byte) {
	c := cap(*bp)
	if c > maxPooled || c < classSize[0] {
		return
	}
	i := len(classSize) - 1
	for classSize[i] > c {
		i--
	}
	*bp = (*bp)[:0]
	pools[i].Put(bp)
}

// grow returns bp, or, when it is more than three quarters full and smaller
// than limit (the queue's byte limit), a pooled buffer of the next class
// holding the same bytes (bp goes back to its pool). A queue thus never moves
// to a class above its limit: the one message that may overflow it grows it
// by append, once.
func grow(bp *[]byte, limit int) *[]byte {
	b := *bp
	if len(b) <= cap(b)/4*3 || cap(b) >= limit || cap(b) >= classSize[len(classSize)-1] {
		return bp
	}
	i := 0
	for i < len(classSize)-1 && classSize[i] <= cap(b) {
		i++
	}
	nb := getClass(i)
	*nb = append((*nb)[:0], b...)
	putBuf(bp)
	return nb
}
