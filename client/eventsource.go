package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"math/rand/v2"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Defaults for [Options].
const (
	DefaultRetry    = 3 * time.Second  // the initial reconnection time, as browsers use
	DefaultMaxRetry = 30 * time.Second // the cap on the backoff after repeated failures
	DefaultJitter   = 0.2              // the largest random extra wait, as a fraction of the wait
)

// minBackoff is the smallest wait the backoff doubles from, so that a
// reconnection time of zero cannot turn failures into a busy loop.
const minBackoff = 10 * time.Millisecond

// ErrNoContent ends an iteration when the server answered 204 No Content:
// the standard way for a server to tell a client to stop reconnecting. Treat
// it as a normal end.
var ErrNoContent = errors.New("ssekit: server answered 204 No Content")

// ErrContentType is matched (with errors.Is) by the error that ends an
// iteration when the server answered 200 with a Content-Type other than
// text/event-stream.
var ErrContentType = errors.New("ssekit: response is not text/event-stream")

// ErrMaxReconnects is matched (with errors.Is) by the error that ends an
// iteration after [Options.MaxReconnects] reconnections in a row have failed.
// The error also wraps the reason the last connection ended.
var ErrMaxReconnects = errors.New("ssekit: too many failed reconnections")

// StatusError ends an iteration when the server answered with a status other
// than 200 OK and 204 No Content (after net/http followed any redirects).
type StatusError struct {
	Code   int    // the status code, such as 500
	Status string // the status line text, such as "500 Internal Server Error"
}

func (e *StatusError) Error() string {
	s := e.Status
	if s == "" {
		s = strconv.Itoa(e.Code)
	}
	return "ssekit: server answered " + s
}

// StatusCode returns e.Code.
func (e *StatusError) StatusCode() int { return e.Code }

// Options configures an [EventSource]. The zero value means the defaults.
type Options struct {
	// Client sends the requests. Nil means http.DefaultClient. It must have no
	// Timeout: a Client.Timeout cuts off every stream that lasts longer.
	Client *http.Client
	// Header holds extra request headers, such as Authorization. They replace
	// Accept and Cache-Control if they name them; Last-Event-ID is always the
	// EventSource's own.
	Header http.Header
	// NewRequest, when set, builds the request for each connection instead of
	// a GET of the URL given to [NewEventSource], for example a POST with a
	// body. It must return a fresh request bound to ctx
	// (http.NewRequestWithContext). The EventSource then sets Last-Event-ID and
	// Header on it, and Accept and Cache-Control unless it has them. An error
	// ends the iteration.
	NewRequest func(ctx context.Context, url string) (*http.Request, error)
	// LastEventID is the last event ID to start from: sent as Last-Event-ID on
	// the first connection, and carried by events until the stream sends an id.
	LastEventID string
	// Retry is the initial reconnection time; a retry field from the server
	// replaces it. Zero means DefaultRetry; negative means zero.
	Retry time.Duration
	// MaxRetry caps the backoff. After a connection that succeeded, or after
	// one failure, the EventSource waits the reconnection time, as the
	// standard says; each further failure in a row doubles the wait (starting
	// from at least 10ms, even when the reconnection time is zero), up to
	// MaxRetry, or up to the reconnection time if the server set it higher.
	// Zero means DefaultMaxRetry; negative means no cap.
	MaxRetry time.Duration
	// Jitter is the largest random extra wait before reconnecting, as a
	// fraction of the wait: a wait d becomes d plus up to Jitter×d, so that
	// clients dropped together do not reconnect together. Zero means
	// DefaultJitter; negative means none.
	Jitter float64
	// MaxReconnects, when positive, ends the iteration (with an error matching
	// ErrMaxReconnects) once that many reconnections in a row have failed. A
	// connection that received any bytes of its stream (an event, a comment,
	// a heartbeat) succeeded and resets the count. Zero means no limit.
	MaxReconnects int
	// OnOpen, when set, is called each time a connection opens: the response
	// is 200 with an event stream. It must not read or close resp.Body.
	OnOpen func(resp *http.Response)
	// OnComment, when set, is called with the text of each comment line
	// (everything after the colon, leading space not stripped).
	OnComment func(text string)
	// OnReconnect, when set, is called each time a connection ends, or fails
	// to open, and the EventSource will reconnect after delay. err says why:
	// io.EOF when the server ended the stream, otherwise the network error.
	OnReconnect func(err error, delay time.Duration)
}

// EventSource receives an event stream over HTTP the way a browser's
// EventSource does: it connects, delivers events, and reconnects when the
// connection drops, sending the last event ID so that the server can resume.
//
// Create it with [NewEventSource] and range over [EventSource.Events]. Every
// callback in [Options] runs on the iterating goroutine. LastEventID may be
// called from any goroutine.
type EventSource struct {
	url      string
	o        Options
	client   *http.Client
	maxRetry time.Duration
	jitter   float64
	retry    time.Duration // the reconnection time; only the iterating goroutine uses it

	mu     sync.Mutex
	lastID string
}

// NewEventSource returns an EventSource for url configured by o. It does not
// connect: [EventSource.Events] does.
func NewEventSource(url string, o Options) *EventSource {
	es := &EventSource{url: url, o: o, client: o.Client, lastID: o.LastEventID,
		retry: o.Retry, maxRetry: o.MaxRetry, jitter: o.Jitter}
	if es.client == nil {
		es.client = http.DefaultClient
	}
	switch {
	case es.retry == 0:
		es.retry = DefaultRetry
	case es.retry < 0:
		es.retry = 0
	}
	switch {
	case es.maxRetry == 0:
		es.maxRetry = DefaultMaxRetry
	case es.maxRetry < 0:
		es.maxRetry = math.MaxInt64
	}
	switch {
	case es.jitter == 0:
		es.jitter = DefaultJitter
	case es.jitter < 0:
		es.jitter = 0
	}
	return es
}

// LastEventID returns the last event ID: the one the next connection sends as
// Last-Event-ID. It persists across connections and iterations.
func (es *EventSource) LastEventID() string {
	es.mu.Lock()
	defer es.mu.Unlock()
	return es.lastID
}

func (es *EventSource) setLastEventID(id string) {
	es.mu.Lock()
	es.lastID = id
	es.mu.Unlock()
}

// Events returns an iterator that connects (when the loop starts) and yields
// the events of the stream, reconnecting as the standard says. Each step yields an event with a nil
// error. The iteration ends after yielding one final non-nil error with a
// zero Event, for the reason it ended:
//
//   - ctx.Err() when ctx is done;
//   - [ErrNoContent] when the server answered 204: a normal end;
//   - a [*StatusError] for any other status than 200;
//   - an error matching [ErrContentType] for a 200 that is not an event stream;
//   - an error matching [ErrMaxReconnects] when [Options.MaxReconnects] is reached;
//   - an error from [Options.NewRequest], or from building the request.
//
// A network error, or the end of the body, is not the end of the iteration:
// the EventSource waits the reconnection time (plus backoff and jitter, see
// [Options]) and reconnects with the last event ID; [Options.OnReconnect]
// observes this.
//
// Breaking out of the loop closes the connection at once. The EventSource
// reads on the iterating goroutine and starts none of its own, so nothing is
// left behind once the loop ends. Iterating again after
// the end starts over with the current last event ID and reconnection time;
// do not iterate over one EventSource from two goroutines at once.
func (es *EventSource) Events(ctx context.Context) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		if err := es.run(ctx, yield); err != nil {
			yield(Event{}, err)
		}
	}
}

// run connects and reconnects until the iteration ends. It returns the
// terminal error, or nil when yield asked to stop.
func (es *EventSource) run(ctx context.Context, yield func(Event, error) bool) error {
	failures := 0   // consecutive failed connections
	reconnects := 0 // reconnections since the last successful connection
	for {
		received, retry, err := es.connect(ctx, yield)
		switch {
		case err == nil:
			return nil // yield returned false
		case ctx.Err() != nil:
			return ctx.Err()
		case !retry:
			return err
		}
		if received {
			failures, reconnects = 0, 0
		} else {
			failures++
		}
		if es.o.MaxReconnects > 0 && reconnects >= es.o.MaxReconnects {
			return fmt.Errorf("%w (%d): %w", ErrMaxReconnects, reconnects, err)
		}
		reconnects++
		d := backoff(es.retry, es.maxRetry, failures, es.jitter, rand.Float64())
		if es.o.OnReconnect != nil {
			es.o.OnReconnect(err, d)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// connect makes one connection and yields its events. It returns a nil error
// when yield asked to stop; otherwise the reason the connection ended, and
// whether the EventSource should reconnect (retry) or end the iteration.
// received reports whether the body delivered any bytes.
func (es *EventSource) connect(ctx context.Context, yield func(Event, error) bool) (received, retry bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := es.newRequest(ctx)
	if err != nil {
		return false, false, err
	}
	resp, err := es.client.Do(req)
	if err != nil {
		return false, true, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNoContent:
		return false, false, ErrNoContent
	case resp.StatusCode != http.StatusOK:
		return false, false, &StatusError{Code: resp.StatusCode, Status: resp.Status}
	case !isEventStream(resp.Header.Get("Content-Type")):
		return false, false, fmt.Errorf("%w: got %q", ErrContentType, resp.Header.Get("Content-Type"))
	}
	if es.o.OnOpen != nil {
		es.o.OnOpen(resp)
	}
	body := &countingReader{r: resp.Body}
	p := NewParser(body)
	p.SetLastEventID(es.LastEventID())
	p.OnComment = es.o.OnComment
	p.OnRetry = func(d time.Duration) { es.retry = d }
	for {
		ev, err := p.Next()
		es.setLastEventID(p.LastEventID())
		if err != nil {
			return body.n > 0, true, err
		}
		if err := ctx.Err(); err != nil {
			return true, false, err // no event after cancellation, even a buffered one
		}
		if !yield(ev, nil) {
			return true, false, nil
		}
	}
}

// newRequest builds the request for one connection.
func (es *EventSource) newRequest(ctx context.Context) (*http.Request, error) {
	var req *http.Request
	var err error
	if es.o.NewRequest != nil {
		req, err = es.o.NewRequest(ctx, es.url)
		if err == nil && req == nil {
			err = errors.New("ssekit: Options.NewRequest returned a nil request")
		}
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, es.url, nil)
	}
	if err != nil {
		return nil, err
	}
	if req.Header == nil {
		req.Header = make(http.Header)
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "text/event-stream")
	}
	if req.Header.Get("Cache-Control") == "" {
		req.Header.Set("Cache-Control", "no-cache")
	}
	for k, v := range es.o.Header {
		req.Header[http.CanonicalHeaderKey(k)] = slices.Clone(v)
	}
	if id := es.LastEventID(); id != "" {
		req.Header.Set("Last-Event-ID", id)
	} else {
		req.Header.Del("Last-Event-ID")
	}
	return req, nil
}

// isEventStream reports whether a Content-Type header names text/event-stream,
// whatever its case and parameters.
func isEventStream(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return (err == nil || errors.Is(err, mime.ErrInvalidMediaParameter)) && mt == "text/event-stream"
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// backoff returns how long to wait before reconnecting, given the
// reconnection time base, the cap maxWait, the number of consecutive failed
// connections (0 when the connection that just ended had succeeded), the
// jitter fraction and a random number r in [0, 1).
//
// After zero or one failure the wait is base, as the standard says; each
// further failure doubles it (from at least minBackoff), up to the larger of
// maxWait and base. Jitter then adds up to jitter×wait, so the wait is never
// shorter than the reconnection time. Nothing overflows.
func backoff(base, maxWait time.Duration, failures int, jitter, r float64) time.Duration {
	d := base
	if failures > 1 {
		limit := max(maxWait, base)
		d = max(base, minBackoff)
		for range failures - 1 {
			if d > limit/2 {
				d = limit
				break
			}
			d *= 2
		}
		d = min(d, limit)
	}
	if extra := float64(d) * jitter * r; extra > 0 {
		if extra >= float64(math.MaxInt64-d) {
			return math.MaxInt64
		}
		d += time.Duration(extra)
	}
	return d
}
