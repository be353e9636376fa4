// Package chat is the chat example without its web framework: the rooms
// on the broker, the routes' logic, the checks and limits, the page, the
// net/http server and the main function. Each framework serves it from a
// directory of its own (a module of its own but for net/http, so that
// running one downloads that framework only); see Main for the commands.
//
// The tests every framework runs are in package chattest.
package chat

import (
	"bytes"
	"context"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"html"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ssekit/ssekit/broker"
	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/metrics/promsse"
)

//go:embed page.html
var pageFS embed.FS

// Limits on what clients send.
const (
	maxUser = 32       // characters in a user name
	MaxText = 2000     // characters in a message
	MaxBody = 16 << 10 // bytes in a POST body
	maxID   = 64       // bytes in a Last-Event-ID or since parameter
)

// Events the rooms carry, besides the broker's own ssekit-reset signal.
const (
	eventMessage = "message" // a chat message: {"user","text"}
	eventSystem  = "system"  // a notice: {"kind","user","text"}, such as a join
)

// TokenHeader is the request header that carries the token of private rooms;
// a browser's EventSource cannot set headers, so the "token" query parameter
// works too.
const TokenHeader = "X-Chat-Token"

// privatePrefix starts the name of every room that needs the token.
const privatePrefix = "private-"

// shutdownTimeout bounds the broker shutdown started by
// http.Server.RegisterOnShutdown, which gives the hook no context.
const shutdownTimeout = 10 * time.Second

// streamOptions configure every stream: a heartbeat every 10s keeps proxies
// from closing idle streams, and a server that learns of a client that left
// only from a failed write notices it sooner.
var streamOptions = []core.Option{core.WithHeartbeat(10 * time.Second)}

// roomName is what a room may be called: it becomes the broker topic
// "room:<name>".
var roomName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$`)

// message is the body of POST /rooms/{room}/messages and the data of a
// "message" event.
type message struct {
	User string `json:"user"`
	Text string `json:"text"`
}

// notice is the data of a "system" event.
type notice struct {
	Kind string `json:"kind"` // "join"
	User string `json:"user"`
	Text string `json:"text"`
}

// Posted is the answer to a POST: the id of the event the message became.
type Posted struct {
	ID string `json:"id"`
}

// joining is the body of POST /rooms/{room}/join.
type joining struct {
	User string `json:"user"`
}

// StreamRequest is what GET /rooms/{room}/events reads from the request. A
// GET never publishes anything: announcing a user is a POST (join), which
// a page of another site cannot send (see checkPost).
type StreamRequest struct {
	Room        string
	Token       string // X-Chat-Token header, or token query parameter
	LastEventID string // Last-Event-ID header, sent by a reconnecting client
	Since       string // since query parameter: where a first connection starts
}

// Chat is the application, the same on every framework: rooms are broker
// topics, the events route subscribes to one, the messages route publishes
// to it.
type Chat struct {
	broker  *broker.Broker
	token   string
	page    []byte // page.html with the backend filled in
	limits  Limits
	limiter *limiter   // messages and joins per client
	rooms   *roomTable // rooms holding messages
	metrics *promsse.Metrics
	reg     *prometheus.Registry // what /metrics serves
}

// Options configures New.
type Options struct {
	Backend     broker.Backend // nil: the in-memory backend
	BackendName string         // shown on the page, such as "memory"
	Token       string         // the token of private rooms; empty refuses everyone
	Limits      Limits         // zero fields: defaultLimits
}

// New returns the chat application on a new broker.
func New(o Options) *Chat {
	l := o.Limits.withDefaults()
	c := &Chat{token: o.Token, limits: l, limiter: newLimiter(l), rooms: newRoomTable(l)}
	backend := o.Backend
	if backend == nil {
		// Each room keeps RoomLog messages for RoomAge at most: with
		// MaxRooms, this bounds what the chat holds (see defaultLimits).
		backend = broker.NewMemory(broker.MemoryOptions{MaxLen: l.RoomLog, MaxAge: l.RoomAge})
	}
	// Metrics of the streams (StreamOptions) and of the broker, served on
	// /metrics (MetricsHandler) with the Go runtime's; the broker's faults
	// (a Redis feed that broke, slow subscribers) are logged too.
	c.metrics = promsse.New(promsse.Options{})
	c.reg = prometheus.NewRegistry()
	c.reg.MustRegister(c.metrics, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	c.broker = broker.New(broker.Options{Backend: backend, Authorize: c.authorize,
		Observer: broker.Observers(c.metrics, broker.LogObserver(slog.Default()))})
	b, err := pageFS.ReadFile("page.html")
	if err != nil {
		panic(err)
	}
	c.page = bytes.Replace(b, []byte("{{BACKEND}}"), []byte(html.EscapeString(o.BackendName)), 1)
	return c
}

// Limits returns the chat's limits, its defaults filled in.
func (c *Chat) Limits() Limits { return c.limits }

// StreamOptions returns the options of the event stream route: a heartbeat,
// and the metrics.
func (c *Chat) StreamOptions() []core.Option {
	return append(slices.Clip(streamOptions), core.WithObserver(c.metrics))
}

// MetricsHandler serves the metrics in Prometheus' format, for GET
// /metrics. A real deployment keeps it off the public listener (or behind
// auth): it tells how busy the server is.
func (c *Chat) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(c.reg, promhttp.HandlerOpts{})
}

// PresenceHandler answers GET /presence with how many people are in each
// public room, on every instance sharing the backend (see
// broker.Broker.ClusterPresence: with Redis, other instances' counts are a
// few seconds old): {"rooms":{"lobby":2}}. Private rooms are left out.
func (c *Chat) PresenceHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := c.broker.ClusterPresence(r.Context())
		if err != nil {
			http.Error(w, "presence unavailable", http.StatusServiceUnavailable)
			return
		}
		rooms := map[string]int{}
		for t, n := range p {
			if room, ok := strings.CutPrefix(t, "room:"); ok && !strings.HasPrefix(room, privatePrefix) {
				rooms[room] = n
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(struct {
			Rooms map[string]int `json:"rooms"`
		}{rooms})
	})
}

// Broker returns the chat's broker.
func (c *Chat) Broker() *broker.Broker { return c.broker }

// tokenKey is the context key of the token the client sent.
type tokenKey struct{}

func withToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, tokenKey{}, token)
}

// authorize is the broker's Authorize hook, asked for every topic a client
// subscribes to (and by post): a room named private-* needs the token, which
// the route put into ctx. Its error carries a status (403) and a message for
// the client; an error without one would answer 403 "ssekit: forbidden".
func (c *Chat) authorize(ctx context.Context, topic string) error {
	room := strings.TrimPrefix(topic, "room:")
	if !strings.HasPrefix(room, privatePrefix) {
		return nil
	}
	token, _ := ctx.Value(tokenKey{}).(string)
	if c.token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(c.token)) == 1 {
		return nil
	}
	if token == "" {
		return core.Error(http.StatusForbidden, "room "+room+" is private: send its token in the "+TokenHeader+" header or the token query parameter")
	}
	return core.Error(http.StatusForbidden, "room "+room+" is private: wrong token")
}

// topic returns the broker topic of a room.
func topic(room string) string { return "room:" + room }

// checkRoom validates a room name from the path.
func checkRoom(room string) error {
	if !roomName.MatchString(room) {
		return core.Error(http.StatusBadRequest, "bad room name: use 1 to 40 letters, digits, '-' or '_', starting with a letter or digit")
	}
	return nil
}

// checkText trims s and checks that it has 1 to limit characters (runes,
// counted before any escaping) and none of the characters badRune refuses:
// controls (newlines and tabs only when multiline), format characters
// such as the bidi overrides, line and paragraph separators.
func checkText(field, s string, limit int, multiline bool) (string, error) {
	s = strings.TrimSpace(s)
	switch n := utf8.RuneCountInString(s); {
	case n == 0:
		return "", core.Error(http.StatusBadRequest, field+" is empty")
	case n > limit:
		return "", core.Error(http.StatusBadRequest, field+" is too long: at most "+strconv.Itoa(limit)+" characters")
	}
	for _, r := range s {
		if badRune(r, multiline) {
			return "", core.Error(http.StatusBadRequest, field+" has a control or format character (U+"+strings.ToUpper(strconv.FormatInt(int64(r), 16))+")")
		}
	}
	return s, nil
}

// errBodyTimeout answers a body not sent within Limits.BodyTimeout.
var errBodyTimeout = core.Error(http.StatusRequestTimeout, "the body was not sent in time")

// errBodyTooLarge answers a body over MaxBody bytes.
var errBodyTooLarge = core.Error(http.StatusRequestEntityTooLarge, "body too large: at most 16 KiB")

// decodeJSON reads a POST body of at most MaxBody bytes into v: one JSON
// object with no other fields than v's. shape shows the expected object
// in the error.
func decodeJSON(body io.Reader, v any, shape string) error {
	b, err := io.ReadAll(io.LimitReader(body, MaxBody+1))
	var tooLarge *http.MaxBytesError
	var timeout net.Error
	switch {
	case errors.As(err, &tooLarge):
		return errBodyTooLarge
	case errors.As(err, &timeout) && timeout.Timeout():
		return errBodyTimeout
	case err != nil:
		return core.Error(http.StatusBadRequest, "could not read the body")
	case len(b) > MaxBody:
		return errBodyTooLarge
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return core.Error(http.StatusBadRequest, "body must be a JSON object "+shape+": "+err.Error())
	}
	if d.More() {
		return core.Error(http.StatusBadRequest, "body must hold one JSON object")
	}
	return nil
}

// decodeMessage reads and validates a POST body: one JSON object with
// exactly the fields "user" and "text".
func decodeMessage(body io.Reader) (message, error) {
	var m message
	if err := decodeJSON(body, &m, `{"user": "...", "text": "..."}`); err != nil {
		return message{}, err
	}
	var err error
	if m.User, err = checkText("user", m.User, maxUser, false); err != nil {
		return message{}, err
	}
	if m.Text, err = checkText("text", m.Text, MaxText, true); err != nil {
		return message{}, err
	}
	return m, nil
}

// encodeJSON returns v as JSON without HTML escaping: json.Marshal would
// turn each of <, > and & into a 6-byte \u003c, so that 2000 '<' became a
// 12 KB event. The page renders every field as text (textContent), never
// as HTML, so nothing needs that escaping.
func encodeJSON(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Subscribe is the events route: it returns the room's broker subscription,
// which the framework's adapter streams. A reconnecting client (with
// Last-Event-ID) gets what it missed first; a first connection starts live,
// or from ?since= ("0": everything the room's log still holds, after the
// ssekit-reset signal). It publishes nothing: a GET can be sent by any
// page, an <img> or a link, so announcing a user is a POST (join).
func (c *Chat) Subscribe(ctx context.Context, q StreamRequest) (core.EventTarget, error) {
	if err := checkRoom(q.Room); err != nil {
		return nil, err
	}
	from := q.LastEventID
	if from == "" {
		from = q.Since
	}
	if len(from) > maxID {
		return nil, core.Error(http.StatusBadRequest, "Last-Event-ID or since is too long")
	}
	sub, err := c.broker.Subscribe(withToken(ctx, q.Token), []string{topic(q.Room)}, from)
	if err != nil {
		return nil, err // 403 from authorize; a backend failure matches core.ErrShutdown: the adapter answers with a retry
	}
	return sub, nil
}

// admitPost checks a POST before its body is read: its origin and content
// type (checkPost), the room, the token of a private room, and the
// client's rate.
func (c *Chat) admitPost(ctx context.Context, q PostRequest) error {
	if err := checkPost(q); err != nil {
		return err
	}
	if err := checkRoom(q.Room); err != nil {
		return err
	}
	if err := c.authorize(withToken(ctx, q.Token), topic(q.Room)); err != nil {
		return err
	}
	if !c.limiter.allow(clientKey(q.Client)) {
		return core.Error(http.StatusTooManyRequests, "too many messages: slow down")
	}
	return nil
}

// Post is the messages route: it validates the message and publishes it to
// the room as a "message" event whose data is the JSON object.
func (c *Chat) Post(ctx context.Context, q PostRequest) (Posted, error) {
	if err := c.admitPost(ctx, q); err != nil {
		return Posted{}, err
	}
	m, err := decodeMessage(q.Body)
	if err != nil {
		return Posted{}, err
	}
	return c.publish(ctx, q.Room, eventMessage, m)
}

// Join is the join route: it announces a user to the room with a "system"
// event. The page posts it once it has opened the room's stream, so the
// newcomer sees it too.
func (c *Chat) Join(ctx context.Context, q PostRequest) (Posted, error) {
	if err := c.admitPost(ctx, q); err != nil {
		return Posted{}, err
	}
	var j joining
	if err := decodeJSON(q.Body, &j, `{"user": "..."}`); err != nil {
		return Posted{}, err
	}
	user, err := checkText("user", j.User, maxUser, false)
	if err != nil {
		return Posted{}, err
	}
	return c.publish(ctx, q.Room, eventSystem, notice{Kind: "join", User: user, Text: user + " joined"})
}

// publish publishes v as an event to room, if the room counts already or
// one more room may (Limits.MaxRooms).
func (c *Chat) publish(ctx context.Context, room, event string, v any) (Posted, error) {
	data, err := encodeJSON(v)
	if err != nil {
		return Posted{}, err
	}
	if !c.rooms.admit(room) {
		return Posted{}, core.Error(http.StatusServiceUnavailable, "too many active rooms: post to an existing room, or try again later")
	}
	id, err := c.broker.Publish(ctx, topic(room), core.Message{Event: event, Data: data})
	c.rooms.published(room)
	if err != nil {
		log.Printf("chat: publishing to %s: %v", room, err)
		if errors.Is(err, core.ErrShutdown) {
			return Posted{}, core.Error(http.StatusServiceUnavailable, "the server is shutting down")
		}
		return Posted{}, core.Error(http.StatusServiceUnavailable, "the message could not be delivered, try again")
	}
	return Posted{ID: id}, nil
}

// StreamRequestOf reads a StreamRequest from a net/http request (net/http,
// Gin and Echo all hand one over).
func StreamRequestOf(r *http.Request, room, lastEventID string) StreamRequest {
	return StreamRequest{Room: room, Token: TokenOf(r), LastEventID: lastEventID, Since: r.URL.Query().Get("since")}
}

// PostRequestOf reads a PostRequest from a net/http request. Its body is
// limited already (guardBodies).
func PostRequestOf(r *http.Request, room string) PostRequest {
	return PostRequest{Room: room, Token: TokenOf(r), ContentType: r.Header.Get("Content-Type"),
		Origin: r.Header.Get("Origin"), FetchSite: r.Header.Get("Sec-Fetch-Site"), Host: r.Host,
		Client: hostIP(r.RemoteAddr), Body: r.Body}
}

// TokenOf returns the token a net/http request carries.
func TokenOf(r *http.Request) string {
	if t := r.Header.Get(TokenHeader); t != "" {
		return t
	}
	return r.URL.Query().Get("token")
}

// PageHandler serves the page, telling it which framework serves it.
func (c *Chat) PageHandler(framework string) http.Handler {
	b := bytes.Replace(c.page, []byte("{{FRAMEWORK}}"), []byte(html.EscapeString(framework)), -1)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(b)
	})
}

// Serve serves h on ln with net/http (for net/http, Gin and Echo) and
// returns the function that stops it. On srv.Shutdown, the broker's
// Shutdown runs as an OnShutdown hook: it ends every stream, after what is
// queued, so that the handlers return and srv.Shutdown, which waits for
// them, can finish; the broker then closes its backend. stop calls the
// broker's Shutdown again, which waits for that.
func (c *Chat) Serve(ln net.Listener, h http.Handler) (stop func(context.Context) error) {
	srv := &http.Server{
		Handler:           guardBodies(h, c.limits.BodyTimeout),
		ReadHeaderTimeout: c.limits.ReadHeaderTimeout, // slow or partial headers
		IdleTimeout:       c.limits.IdleTimeout,       // idle keep-alive connections
		MaxHeaderBytes:    64 << 10,
		// ReadTimeout and WriteTimeout stay 0: on net/http they would end
		// every event stream after that long. guardBodies bounds reading
		// a body instead, and the ssekit adapter bounds each write of a
		// stream (core.WithWriteTimeout).
	}
	srv.RegisterOnShutdown(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		c.broker.Shutdown(ctx) // its error is stop's
	})
	go srv.Serve(ln)
	return func(ctx context.Context) error {
		return errors.Join(srv.Shutdown(ctx), c.broker.Shutdown(ctx))
	}
}

// guardBodies bounds every request that carries a body: it must arrive
// within timeout (a read deadline on this request only) and hold at most
// MaxBody bytes (http.MaxBytesReader, which also closes the connection of
// a body too large). The deadline covers what net/http reads of an unread
// body after the handler, too (a POST to an unknown route). The body of a
// GET or HEAD is read before the handler (discardBody). Requests
// without a body, such as every EventSource GET, are left alone: a read
// deadline on a stream's connection would end the stream when it passed.
func guardBodies(h http.Handler, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 { // a length, or -1: chunked
			rc := http.NewResponseController(w)
			if err := rc.SetReadDeadline(time.Now().Add(timeout)); err != nil {
				http.Error(w, "cannot bound the body", http.StatusInternalServerError)
				return
			}
			r.Body = timeoutBody{http.MaxBytesReader(w, r.Body, MaxBody), w}
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				if !discardBody(w, r, rc) {
					return
				}
			}
		}
		h.ServeHTTP(w, r)
	})
}

// discardBody reads the body of a GET or HEAD, which has no meaning,
// before the handler runs: an event stream that started with its body
// unread would keep a connection whose body stopped arriving open for as
// long as the stream lives. A body that times out or is too large gets
// its answer and a closed connection; after a whole body the read
// deadline is cleared, or net/http's background read would hit it and end
// the stream.
func discardBody(w http.ResponseWriter, r *http.Request, rc *http.ResponseController) bool {
	_, err := io.Copy(io.Discard, r.Body)
	var tooLarge *http.MaxBytesError
	var timeout net.Error
	switch {
	case errors.As(err, &tooLarge):
		http.Error(w, errBodyTooLarge.Error(), http.StatusRequestEntityTooLarge)
		return false
	case errors.As(err, &timeout) && timeout.Timeout():
		http.Error(w, errBodyTimeout.Error(), http.StatusRequestTimeout)
		return false
	case err != nil:
		w.Header().Set("Connection", "close")
		http.Error(w, "could not read the body", http.StatusBadRequest)
		return false
	}
	if err := rc.SetReadDeadline(time.Time{}); err != nil {
		http.Error(w, "cannot clear the read deadline", http.StatusInternalServerError)
		return false
	}
	return true
}

// timeoutBody is a request body that, once a read has timed out, asks for
// the connection to be closed after the answer: what is left of the body
// will not be read.
type timeoutBody struct {
	io.ReadCloser
	w http.ResponseWriter
}

func (b timeoutBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		b.w.Header().Set("Connection", "close")
	}
	return n, err
}
