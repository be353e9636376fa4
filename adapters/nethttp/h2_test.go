package nethttpsse_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/core"
)

// TestHTTP2IdlePastWriteTimeout guards against HTTP/2 killing idle streams:
// net/http's HTTP/2 server resets a stream when its write deadline fires,
// whether or not a write is pending, and the loop left its last deadline
// armed while the stream idled (INTERNAL_ERROR at the write timeout; the
// event after it never arrived). Over TLS and h2c, a stream idle for four
// write timeouts still delivers its next events and ends normally.
func TestHTTP2IdlePastWriteTimeout(t *testing.T) {
	t.Parallel()
	const wt, idle = 300 * time.Millisecond, 1200 * time.Millisecond
	for _, tc := range []struct {
		name  string
		start func(*httptest.Server) *http.Client
	}{
		{"h2", func(ts *httptest.Server) *http.Client {
			ts.EnableHTTP2 = true
			ts.StartTLS()
			return ts.Client()
		}},
		{"h2c", func(ts *httptest.Server) *http.Client {
			var p http.Protocols
			p.SetUnencryptedHTTP2(true)
			ts.Config.Protocols = &p
			ts.Start()
			return &http.Client{Transport: &http.Transport{Protocols: &p}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ended := make(chan error, 1)
			ts := httptest.NewUnstartedServer(nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
				tg := core.NewTarget()
				go func() {
					select {
					case <-time.After(idle):
					case <-tg.Done():
						return
					}
					_ = tg.Dispatch(core.Message{Data: "after idle"})
					_ = tg.Dispatch(core.Message{Data: "second"})
					tg.Close()
				}()
				return tg, nil
			}, core.WithWriteTimeout(wt), core.WithHeartbeat(-1), core.WithOnEnd(func(err error) { ended <- err })))
			c := tc.start(ts)
			t.Cleanup(ts.Close)
			t.Cleanup(c.CloseIdleConnections)
			c.Timeout = 10 * time.Second
			resp, err := c.Get(ts.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.ProtoMajor != 2 {
				t.Fatalf("got %s; want HTTP/2", resp.Proto)
			}
			p := client.NewParser(resp.Body)
			var evs []client.Event
			for range 3 {
				ev, err := p.Next()
				if err != nil {
					if err != io.EOF {
						t.Fatalf("after %d events: %v; want both events and a normal end", len(evs), err)
					}
					break
				}
				evs = append(evs, ev)
			}
			if len(evs) != 2 || evs[0].Data != "after idle" {
				t.Fatalf("got %d events %+v, %v; want both events and a normal end", len(evs), evs, err)
			}
			select {
			case err := <-ended:
				if err != nil {
					t.Errorf("OnEnd: got %v; want nil (a normal end)", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("OnEnd not called")
			}
		})
	}
}
