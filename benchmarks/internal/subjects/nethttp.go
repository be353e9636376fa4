package subjects

import (
	"net"
	"net/http"
	"strconv"

	sse "github.com/tmaxmax/go-sse"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/core"
)

func startNetHTTPAdapter(ln net.Listener, s *Server, _ []core.Option) func() error {
	h := nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
		return s.adapterRoute(r.URL.Path, r.URL.Query().Get("n"))
	}, s.adapterOptions()...)
	return serveHTTP(ln, h)
}

// startNetHTTPBaseline is the hand-written handler: fmt.Fprintf each event,
// then Flush.
func startNetHTTPBaseline(ln net.Listener, s *Server, _ []core.Option) func() error {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := w.(http.Flusher)
		flush := func() error { f.Flush(); return nil }
		s.baselineHTTP(r.Context(), r.URL.Path, r.URL.Query().Get("n"), w, flush,
			func(ts int64) error { return writeTick(w, ts) },
			func() error { return writeBurstEvent(w) })
	})
	return serveHTTP(ln, h)
}

// startDirectBaseline is the hand-written net/http handler with no hand-off:
// each lone event is written (Fprintf, then Flush) on the producer's goroutine
// while the handler waits for the end. Its burst is the same as the
// hand-written handler's.
func startDirectBaseline(ln net.Listener, s *Server, _ []core.Option) func() error {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := w.(http.Flusher)
		flush := func() error { f.Flush(); return nil }
		if r.URL.Path != "/lone" {
			s.baselineHTTP(r.Context(), r.URL.Path, r.URL.Query().Get("n"), w, flush,
				func(ts int64) error { return writeTick(w, ts) },
				func() error { return writeBurstEvent(w) })
			return
		}
		s.enter()
		defer s.leave()
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		f.Flush()
		snd := &directSender{end: make(chan struct{}), write: func(ts int64) error {
			if err := writeTick(w, ts); err != nil {
				return err
			}
			return flush()
		}}
		s.lone <- snd
		snd.wait(r.Context().Done(), s.quit)
	})
	return serveHTTP(ln, h)
}

// startGoSSEBaseline streams with go-sse: Session.Send of a *sse.Message
// built per event, then Session.Flush.
func startGoSSEBaseline(ln net.Listener, s *Server, _ []core.Option) func() error {
	typ := sse.Type(EventName)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := sse.Upgrade(w, r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		s.enter()
		defer s.leave()
		if sess.Flush() != nil { // sends the headers
			return
		}
		switch r.URL.Path {
		case "/burst":
			for range burstCount(r.URL.Query().Get("n")) {
				m := &sse.Message{Type: typ}
				m.AppendData(Payload)
				if sess.Send(m) != nil || sess.Flush() != nil {
					return
				}
			}
		case "/lone":
			snd := newChanSender()
			s.lone <- snd
			var buf [24]byte
			snd.loop(r.Context().Done(), s.quit, func(ts int64) error {
				m := &sse.Message{Type: typ}
				m.AppendData(string(strconv.AppendInt(buf[:0], ts, 10)))
				if err := sess.Send(m); err != nil {
					return err
				}
				return sess.Flush()
			})
		case "/idle":
			select {
			case <-r.Context().Done():
			case <-s.quit:
			}
		}
	})
	return serveHTTP(ln, h)
}
