package main

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
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ssekit/ssekit/broker"
	"github.com/ssekit/ssekit/core"
)

//go:embed page.html
var pageFS embed.FS

// Limits on what clients send.
const (
	maxUser = 32       // characters in a user name
	maxText = 2000     // characters in a message
	maxBody = 16 << 10 // bytes in a POST body
	maxID   = 64       // bytes in a Last-Event-ID or since parameter
)

// Events the rooms carry, besides the broker's own ssekit-reset signal.
const (
	eventMessage = "message" // a chat message: {"user","text"}
	eventSystem  = "system"  // a notice: {"kind","user","text"}, such as a join
)

// tokenHeader is the request header that carries the token of private rooms;
// a browser's EventSource cannot set headers, so the "token" query parameter
// works too.
const tokenHeader = "X-Chat-Token"

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

// posted is the answer to a POST: the id of the event the message became.
type posted struct {
	ID string `json:"id"`
}

// streamRequest is what GET /rooms/{room}/events reads from the request.
type streamRequest struct {
	Room        string
	Token       string // X-Chat-Token header, or token query parameter
	User        string // user query parameter: announce that user's arrival
	LastEventID string // Last-Event-ID header, sent by a reconnecting client
	Since       string // since query parameter: where a first connection starts
}

// chat is the application, the same on every framework: rooms are broker
// topics, the events route subscribes to one, the messages route publishes
// to it.
type chat struct {
	broker *broker.Broker
	token  string
	page   []byte // page.html with the backend filled in
}

// chatOptions configures newChat.
type chatOptions struct {
	Backend     broker.Backend // nil: the in-memory backend
	BackendName string         // shown on the page, such as "memory"
	Token       string         // the token of private rooms; empty refuses everyone
}

// newChat returns the chat application on a new broker.
func newChat(o chatOptions) *chat {
	c := &chat{token: o.Token}
	c.broker = broker.New(broker.Options{Backend: o.Backend, Authorize: c.authorize})
	b, err := pageFS.ReadFile("page.html")
	if err != nil {
		panic(err)
	}
	c.page = bytes.Replace(b, []byte("{{BACKEND}}"), []byte(html.EscapeString(o.BackendName)), 1)
	return c
}

// tokenKey is the context key of the token the client sent.
type tokenKey struct{}

func withToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, tokenKey{}, token)
}

// authorize is the broker's Authorize hook, asked for every topic a client
// subscribes to (and by post): a room named private-* needs the token, which
// the route put into ctx. Its error carries a status (403) and a message for
// the client; an error without one would answer 403 "ssekit: forbidden".
func (c *chat) authorize(ctx context.Context, topic string) error {
	room := strings.TrimPrefix(topic, "room:")
	if !strings.HasPrefix(room, privatePrefix) {
		return nil
	}
	token, _ := ctx.Value(tokenKey{}).(string)
	if c.token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(c.token)) == 1 {
		return nil
	}
	if token == "" {
		return core.Error(http.StatusForbidden, "room "+room+" is private: send its token in the "+tokenHeader+" header or the token query parameter")
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

// checkText trims s and checks that it has 1 to limit characters and no
// control characters (newlines and tabs only when multiline).
func checkText(field, s string, limit int, multiline bool) (string, error) {
	s = strings.TrimSpace(s)
	switch n := utf8.RuneCountInString(s); {
	case n == 0:
		return "", core.Error(http.StatusBadRequest, field+" is empty")
	case n > limit:
		return "", core.Error(http.StatusBadRequest, field+" is too long: at most "+strconv.Itoa(limit)+" characters")
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t')) {
			return "", core.Error(http.StatusBadRequest, field+" has a control character")
		}
	}
	return s, nil
}

// decodeMessage reads and validates a POST body: one JSON object with
// exactly the fields "user" and "text".
func decodeMessage(body io.Reader) (message, error) {
	b, err := io.ReadAll(io.LimitReader(body, maxBody+1))
	if err != nil {
		return message{}, core.Error(http.StatusBadRequest, "could not read the body")
	}
	if len(b) > maxBody {
		return message{}, core.Error(http.StatusRequestEntityTooLarge, "body too large: at most 16 KiB")
	}
	var m message
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&m); err != nil {
		return message{}, core.Error(http.StatusBadRequest, `body must be a JSON object {"user": "...", "text": "..."}: `+err.Error())
	}
	if d.More() {
		return message{}, core.Error(http.StatusBadRequest, "body must hold one JSON object")
	}
	if m.User, err = checkText("user", m.User, maxUser, false); err != nil {
		return message{}, err
	}
	if m.Text, err = checkText("text", m.Text, maxText, true); err != nil {
		return message{}, err
	}
	return m, nil
}

// subscribe is the events route: it returns the room's broker subscription,
// which the framework's adapter streams. A reconnecting client (with
// Last-Event-ID) gets what it missed first; a first connection starts live,
// or from ?since= ("0": everything the room's log still holds, after the
// ssekit-reset signal). With ?user= on a first connection, a "system" event
// announces the user to the room.
func (c *chat) subscribe(ctx context.Context, q streamRequest) (core.EventTarget, error) {
	if err := checkRoom(q.Room); err != nil {
		return nil, err
	}
	var user string
	if q.User != "" {
		var err error
		if user, err = checkText("user", q.User, maxUser, false); err != nil {
			return nil, err
		}
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
		return nil, err // 403 from authorize, 503 when the backend fails
	}
	if user != "" && q.LastEventID == "" {
		// Published after Subscribe, so the newcomer sees it too.
		n := notice{Kind: "join", User: user, Text: user + " joined"}
		if _, err := c.broker.Publish(ctx, topic(q.Room), core.Message{Event: eventSystem, Data: n}); err != nil {
			log.Printf("chat: announcing %s in %s: %v", user, q.Room, err)
		}
	}
	return sub, nil
}

// post is the messages route: it validates the message and publishes it to
// the room as a "message" event whose data is the JSON object.
func (c *chat) post(ctx context.Context, room, token string, body io.Reader) (posted, error) {
	if err := checkRoom(room); err != nil {
		return posted{}, err
	}
	if err := c.authorize(withToken(ctx, token), topic(room)); err != nil {
		return posted{}, err
	}
	m, err := decodeMessage(body)
	if err != nil {
		return posted{}, err
	}
	id, err := c.broker.Publish(ctx, topic(room), core.Message{Event: eventMessage, Data: m})
	if err != nil {
		log.Printf("chat: publishing to %s: %v", room, err)
		if errors.Is(err, core.ErrShutdown) {
			return posted{}, core.Error(http.StatusServiceUnavailable, "the server is shutting down")
		}
		return posted{}, core.Error(http.StatusServiceUnavailable, "the message could not be delivered, try again")
	}
	return posted{ID: id}, nil
}

// streamRequestOf reads a streamRequest from a net/http request (net/http,
// Gin and Echo all hand one over).
func streamRequestOf(r *http.Request, room, lastEventID string) streamRequest {
	q := r.URL.Query()
	return streamRequest{Room: room, Token: tokenOf(r), User: q.Get("user"), LastEventID: lastEventID, Since: q.Get("since")}
}

// tokenOf returns the token a net/http request carries.
func tokenOf(r *http.Request) string {
	if t := r.Header.Get(tokenHeader); t != "" {
		return t
	}
	return r.URL.Query().Get("token")
}

// pageHandler serves the page, telling it which framework serves it.
func (c *chat) pageHandler(framework string) http.Handler {
	b := bytes.Replace(c.page, []byte("{{FRAMEWORK}}"), []byte(html.EscapeString(framework)), -1)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(b)
	})
}

// serveHTTP serves h on ln with net/http (for net/http, Gin and Echo) and
// returns the function that stops it. On srv.Shutdown, the broker's
// Shutdown runs as an OnShutdown hook: it ends every stream, after what is
// queued, so that the handlers return and srv.Shutdown, which waits for
// them, can finish; the broker then closes its backend. stop calls the
// broker's Shutdown again, which waits for that.
func (c *chat) serveHTTP(ln net.Listener, h http.Handler) (stop func(context.Context) error) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
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
