package chat

import (
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ssekit/ssekit/core"
)

// Limits bounds what clients can make the chat hold and how long they can
// hold a connection. The zero value of a field means its default (see
// defaultLimits); the tests shorten them.
//
// What the chat can be made to hold in memory, with the in-memory backend,
// is bounded by MaxRooms and RoomLog (see the comment on defaultLimits); the
// rate limit decides how fast a client gets there, not how far.
type Limits struct {
	// ReadHeaderTimeout bounds reading a request's headers (net/http,
	// Gin, Echo). Fiber has no header timeout of its own: its ReadTimeout
	// (BodyTimeout below) covers the headers and the body.
	ReadHeaderTimeout time.Duration
	// BodyTimeout bounds reading a request body, set per request on the
	// requests that carry one (so it never cuts an event stream).
	BodyTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sends no new request.
	IdleTimeout time.Duration
	// MaxConns bounds Fiber's open connections (fasthttp's Concurrency).
	MaxConns int

	// MaxRooms bounds the rooms that hold messages at once: a room counts
	// until RoomAge has passed since its last message. A message that
	// would open one more room is refused with 503.
	MaxRooms int
	// RoomLog is how many messages each room keeps for replay (the
	// backend's MaxLen) and RoomAge how long (its MaxAge).
	RoomLog int
	RoomAge time.Duration

	// Rate is how many messages (and join announcements) a client, keyed
	// by its IP address (IPv6: its /64), may post per second on average,
	// Burst how many at once. Beyond that: 429.
	Rate  float64
	Burst int
	// MaxClients bounds the rate limiter's table of clients; when it is
	// full of clients still limited, new clients get 429 too.
	MaxClients int
}

// defaultLimits are the limits of `go run ./examples/chat/<framework>`.
//
// Worst case held in memory by the in-memory backend: a frame is at most
// MaxFrame bytes (a 32-character name and a 2000-character text of 4-byte
// characters, JSON without HTML escaping, the SSE fields around it), and
// the backend holds at most MaxRooms × RoomLog frames of rooms that count,
// plus the frames of rooms that aged out, which the backend drops at its
// next sweep (every 1024 publishes): at most MaxRooms × RoomLog + 1024
// frames. Here (50 × 50 + 1024) × 8.3 KB ≈ 29 MB at the very worst; a chat
// of ordinary messages holds a small fraction of that. Each open stream
// holds its own bounded queue on top (broker.Options.QueueBytes).
func defaultLimits() Limits {
	return Limits{
		ReadHeaderTimeout: 5 * time.Second,
		BodyTimeout:       10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxConns:          10_000,
		MaxRooms:          50,
		RoomLog:           50,
		RoomAge:           30 * time.Minute,
		Rate:              1,
		Burst:             10,
		MaxClients:        10_000,
	}
}

// withDefaults fills the zero fields of l from defaultLimits.
func (l Limits) withDefaults() Limits {
	d := defaultLimits()
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	seti := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&l.ReadHeaderTimeout, d.ReadHeaderTimeout)
	set(&l.BodyTimeout, d.BodyTimeout)
	set(&l.IdleTimeout, d.IdleTimeout)
	set(&l.RoomAge, d.RoomAge)
	seti(&l.MaxConns, d.MaxConns)
	seti(&l.MaxRooms, d.MaxRooms)
	seti(&l.RoomLog, d.RoomLog)
	seti(&l.Burst, d.Burst)
	seti(&l.MaxClients, d.MaxClients)
	if l.Rate <= 0 {
		l.Rate = d.Rate
	}
	return l
}

// MaxFrame is the largest event frame a chat message can become: "id: "
// and a broker id (at most 41 bytes), "event: message", and one data line
// holding {"user":"…","text":"…"}, where every character takes at most 4
// bytes (UTF-8, or a 2-byte escape such as \" or \n; the characters JSON
// escapes longer, controls and U+2028/U+2029, are refused).
const MaxFrame = len("id: \n") + 41 + len("event: message\n") + len("data: \n\n") +
	len(`{"user":"","text":""}`) + 4*(maxUser+MaxText)

// PostRequest is what the POST routes read from the request, the same on
// every framework.
type PostRequest struct {
	Room        string
	Token       string    // X-Chat-Token header, or token query parameter
	ContentType string    // Content-Type header
	Origin      string    // Origin header, sent by browsers
	FetchSite   string    // Sec-Fetch-Site header, sent by browsers
	Host        string    // the Host the request was sent to
	Client      string    // the client's IP address (the connection's, not a header's)
	Body        io.Reader // limited by the framework to MaxBody bytes
}

// checkPost refuses what a browser page of another site could send: a body
// that is not JSON (a cross-site form or a fetch without a preflight can
// send text/plain, never application/json) answers 415, and a request
// from another origin answers 403. A request without Origin or
// Sec-Fetch-Site does not come from a browser (curl, scripts) and passes.
func checkPost(q PostRequest) error {
	switch q.FetchSite {
	case "", "same-origin", "none":
	default: // "same-site", "cross-site"
		return core.Error(http.StatusForbidden, "cross-origin request refused")
	}
	if q.Origin != "" {
		u, err := url.Parse(q.Origin)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.EqualFold(u.Host, q.Host) {
			return core.Error(http.StatusForbidden, "cross-origin request refused")
		}
	}
	mt, _, err := mime.ParseMediaType(q.ContentType)
	if err != nil || mt != "application/json" {
		return core.Error(http.StatusUnsupportedMediaType, "the body must be application/json")
	}
	return nil
}

// allowedFormat lists the format characters (category Cf) a message may
// carry: the zero-width joiner and non-joiner, which emoji sequences and
// several scripts need and which do not reorder text. Names take none.
func allowedFormat(r rune) bool { return r == '\u200d' || r == '\u200c' }

// badRune reports whether r may not appear in a name or message: control
// characters (Cc) other than newline and tab in messages, format
// characters (Cf, which holds every bidi control: U+061C, U+200E/F,
// U+202A-E, U+2066-9), the line and paragraph separators (which JSON
// escapes to 6 bytes and some renderers break on), and U+FFFD, which
// stands for bytes that were not UTF-8.
func badRune(r rune, multiline bool) bool {
	switch {
	case multiline && (r == '\n' || r == '\t'):
		return false
	case unicode.Is(unicode.Cc, r):
		return true
	case unicode.Is(unicode.Cf, r):
		return !(multiline && allowedFormat(r))
	case r == '\u2028' || r == '\u2029' || r == utf8.RuneError:
		return true
	}
	return false
}

// clientKey returns the rate limiter's key for an IP address: the address
// itself for IPv4, its /64 for IPv6 (one subscriber usually has a whole
// /64, so keying by address would give them millions of buckets).
func clientKey(ip string) string {
	a := net.ParseIP(ip)
	if a == nil {
		return ip
	}
	if a4 := a.To4(); a4 != nil {
		return a4.String()
	}
	return a.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// hostIP returns the IP address of a net/http request's peer (RemoteAddr,
// never a header a client can forge: behind a reverse proxy, take it from
// the proxy's header instead, and only from your proxy).
func hostIP(remoteAddr string) string {
	h, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return h
}

// limiter is a token bucket per client (Rate tokens a second, at most
// Burst), in a table of at most MaxClients entries.
type limiter struct {
	mu      sync.Mutex
	rate    float64
	burst   float64
	max     int
	now     func() time.Time
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(l Limits) *limiter {
	return &limiter{rate: l.Rate, burst: float64(l.Burst), max: l.MaxClients, now: time.Now, buckets: map[string]*bucket{}}
}

// allow takes a token from key's bucket, if it has one.
func (l *limiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.max && !l.prune(now) {
			return false // the table is full of clients still limited
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// prune forgets the clients whose bucket is full again (forgetting them
// changes nothing) and reports whether it freed a place.
func (l *limiter) prune(now time.Time) bool {
	n := len(l.buckets)
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
	return len(l.buckets) < n
}

// roomTable counts the rooms that hold messages: a room counts until
// RoomAge after its last message, when the backend's log of it has aged
// out too.
type roomTable struct {
	mu   sync.Mutex
	max  int
	age  time.Duration
	now  func() time.Time
	last map[string]time.Time // room → when its last message was published
}

func newRoomTable(l Limits) *roomTable {
	return &roomTable{max: l.MaxRooms, age: l.RoomAge, now: time.Now, last: map[string]time.Time{}}
}

// admit reports whether a message may be published to room: it may when
// the room counts already or there is room for one more.
func (t *roomTable) admit(room string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if _, ok := t.last[room]; ok {
		return true
	}
	if len(t.last) >= t.max {
		cut := now.Add(-t.age)
		for r, at := range t.last {
			if at.Before(cut) {
				delete(t.last, r)
			}
		}
		if len(t.last) >= t.max {
			return false
		}
	}
	t.last[room] = now
	return true
}

// published records a message published to room, after the backend
// stamped it: the room counts until RoomAge after this.
func (t *roomTable) published(room string) {
	t.mu.Lock()
	t.last[room] = t.now()
	t.mu.Unlock()
}
