package nbiosse

import "sync"

// groups watches the Groups of running streams: one goroutine per Group
// with streams here (not per stream) waits for its shutdown and wakes its
// streams with evDown. The goroutine exits when the group's last stream
// leaves or when the group shuts down.
var groups = struct {
	mu sync.Mutex
	m  map[<-chan struct{}]*watch
}{m: map[<-chan struct{}]*watch{}}

// watch is the set of streams of one Group.
type watch struct {
	streams map[*stream]struct{}
	quit    chan struct{} // closed when the set empties
}

// watchGroup adds s to the streams woken when down closes.
func watchGroup(s *stream, down <-chan struct{}) {
	groups.mu.Lock()
	defer groups.mu.Unlock()
	w := groups.m[down]
	if w == nil {
		w = &watch{streams: map[*stream]struct{}{}, quit: make(chan struct{})}
		groups.m[down] = w
		go w.wait(down)
	}
	w.streams[s] = struct{}{}
}

// unwatchGroup removes s from the streams of down.
func unwatchGroup(s *stream, down <-chan struct{}) {
	groups.mu.Lock()
	defer groups.mu.Unlock()
	w := groups.m[down]
	if w == nil {
		return // the group shut down: its watch is gone
	}
	delete(w.streams, s)
	if len(w.streams) == 0 {
		delete(groups.m, down)
		close(w.quit)
	}
}

// wait wakes every stream of w with evDown when down closes.
func (w *watch) wait(down <-chan struct{}) {
	select {
	case <-w.quit:
		return
	case <-down:
	}
	groups.mu.Lock()
	if groups.m[down] == w {
		delete(groups.m, down)
	}
	all := w.streams
	w.streams = nil
	groups.mu.Unlock()
	for s := range all {
		s.wake(evDown)
	}
}
