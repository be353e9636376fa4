package core_test

import (
	"io"
	stdlog "log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	nethttpsse "github.com/ssekit/ssekit/adapters/nethttp"
	"github.com/ssekit/ssekit/core"
)

// stableLogger logs JSON to w without the attributes that change per run.
func stableLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			switch a.Key {
			case slog.TimeKey, "duration", "stack":
				return slog.Attr{}
			}
			return a
		},
	}))
}

// Stream ends and rejected requests logged as structured records, with the
// request id a middleware (or the client) set in X-Request-ID.
func ExampleWithLogger() {
	log := stableLogger(os.Stdout) // slog.Default() in a real server
	mux := http.NewServeMux()
	mux.Handle("GET /feed", nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
		if r.URL.Query().Get("user") == "" {
			return nil, core.Error(http.StatusUnauthorized, "who are you?")
		}
		t := core.NewTarget()
		t.Dispatch(core.Message{Data: "hello"})
		t.Close()
		return t, nil
	}, core.WithLogger(log)))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, q := range []string{"?user=ann", ""} {
		req, _ := http.NewRequest("GET", srv.URL+"/feed"+q, nil)
		req.Header.Set("X-Request-ID", "req-7"+q)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	// Output:
	// {"level":"INFO","msg":"sse stream ended","reason":"closed","adapter":"net/http","route":"GET /feed","request_id":"req-7?user=ann","events":1,"bytes":13}
	// {"level":"INFO","msg":"sse stream rejected","reason":"handler_error","adapter":"net/http","route":"GET /feed","request_id":"req-7","status":401,"error":"who are you?"}
}

// syncBuffer is a strings.Builder safe for the server's goroutines.
type syncBuffer struct {
	mu chan struct{}
	sb strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.sb.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.sb.String()
}

// A panic is logged at Error with its stack.
func TestLoggerPanic(t *testing.T) {
	t.Parallel()
	buf := &syncBuffer{mu: make(chan struct{}, 1)}
	log := slog.New(slog.NewJSONHandler(buf, nil))
	srv := httptest.NewUnstartedServer(nethttpsse.Handle(func(r *http.Request) (core.EventTarget, error) {
		panic("kaboom")
	}, core.WithLogger(log)))
	srv.Config.ErrorLog = stdlog.New(io.Discard, "", 0) // the adapter logs the panic there too
	srv.Start()
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	got := buf.String()
	for _, want := range []string{`"level":"ERROR"`, `"reason":"panic"`, `"error":"ssekit: panic: kaboom"`, `"stack":"goroutine `, `log_example_test.go`} {
		if !strings.Contains(got, want) {
			t.Fatalf("got %s; want %s in it", got, want)
		}
	}
}
