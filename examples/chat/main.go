// The chat is a live chat built on the ssekit broker, served by the
// framework of your choice, with a page that shows rooms and messages live:
//
//	go run ./examples/chat/gin -addr 127.0.0.1:8080
//
// then open http://127.0.0.1:8080/ in two browser windows and chat. The
// framework is the directory: ./examples/chat/nethttp, gin, echo or fiber
// (each but nethttp a module of its own, so that running one downloads
// that framework only); the routes and their behaviour are the same on
// each:
//
//	GET  /                      the page (one EventSource on the current room)
//	GET  /rooms/{room}/events   the room's event stream: broker.Subscribe on
//	                            the topic "room:{room}" with the request's
//	                            Last-Event-ID, through the framework's adapter
//	POST /rooms/{room}/messages {"user": "...", "text": "..."}: published to
//	                            the room as a "message" event whose data is
//	                            that JSON object; answers 201 {"id": "..."}
//	POST /rooms/{room}/join     {"user": "..."}: announces the user to the
//	                            room with a "system" event; answers 201
//
// Every event carries the broker's id ("ms-seq"). A client that reconnects
// with Last-Event-ID gets exactly what it missed, then live events. A first
// connection starts with live events, or with ?since=0 with everything the
// room's log still holds (after the "ssekit-reset" signal, which means
// "earlier events are gone"). A GET never publishes: the page announces its
// user with a POST to the join route once its stream is open.
//
// Input is checked: room names are 1 to 40 letters, digits, '-' and '_';
// user names 1 to 32 characters and messages 1 to 2000, without control or
// format characters (such as the bidi overrides; messages may hold
// newlines, tabs and the zero-width joiners of emoji); the body is one JSON
// object of at most 16 KiB. Bad input answers 400 (413 for a body too
// large) with a message saying what is wrong, the way each framework
// answers errors.
//
// The chat can be flooded by anyone who reaches it, so it bounds what a
// client can make it hold or hold open (Limits, defaultLimits): a POST
// must be application/json (else 415) from the page's own origin (else
// 403); each client (IP address) may post 10 messages at once and 1 a
// second after that (else 429); at most 50 rooms hold messages at once
// (else 503), each keeping its last 50 messages for 30 minutes; headers
// must arrive within 5 s, a body within 10 s, and an idle keep-alive
// connection is closed after 60 s.
//
// Rooms whose name starts with "private-" show the broker's Authorize hook:
// reading or posting needs the token given by -token (default "letmein"), in
// the X-Chat-Token header or the token query parameter (an EventSource
// cannot set headers); without it the answer is 403.
//
// # Several instances
//
// With -redis, the broker keeps its rooms in Redis Streams
// (github.com/ssekit/ssekit/broker/redis), so instances share them: a
// message posted on one reaches the clients of every instance, and a client
// resumes with Last-Event-ID on any of them. Run two instances, on any
// frameworks, against one Redis:
//
//	redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no &
//	go run ./examples/chat/gin -addr 127.0.0.1:8080 -redis 127.0.0.1:6379 &
//	go run ./examples/chat/fiber -addr 127.0.0.1:8081 -redis 127.0.0.1:6379 &
//
// then open http://127.0.0.1:8080/ in one window and http://127.0.0.1:8081/
// in another, pick the same room, and chat across them. Every framework
// offers -redis, so the Redis client (go-redis) is part of this package
// and of what running the chat on any framework downloads.
//
// On SIGINT or SIGTERM the server shuts down: the broker ends every stream
// after what is queued (browsers reconnect with Last-Event-ID, to another
// instance or once this one is back) and closes its backend, then the
// server stops.
package chat

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	redisbroker "github.com/ssekit/ssekit/broker/redis"
)

// Framework is a web framework that serves the chat.
type Framework struct {
	// Name is the framework's name, shown on the page: "Gin".
	Name string
	// Serve serves the chat c on ln and returns the function that stops
	// the server and the broker.
	Serve func(ln net.Listener, c *Chat) (stop func(context.Context) error)
}

// redisPrefix is the prefix of the chat's Redis keys.
const redisPrefix = "ssekit-chat"

// Main is the main function of the chat on fw: it serves the chat on the
// address given by -addr until SIGINT or SIGTERM, then shuts down.
func Main(fw Framework) {
	addr := flag.String("addr", "127.0.0.1:8080", "the address to listen on")
	redisAddr := flag.String("redis", "", "a Redis server (host:port) to keep the rooms in, shared by every instance using it; empty keeps them in memory")
	token := flag.String("token", "letmein", "the token of private-* rooms (empty: nobody may use them)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "chat: unexpected arguments %q (the framework is the directory you run: ./examples/chat/nethttp, gin, echo or fiber)\n", flag.Args())
		os.Exit(2)
	}

	o := Options{BackendName: "in-memory broker", Token: *token}
	var rdb *goredis.Client
	if *redisAddr != "" {
		rdb = goredis.NewClient(&goredis.Options{Addr: *redisAddr})
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err != nil {
			log.Fatalf("chat: Redis at %s: %v", *redisAddr, err)
		}
		l := defaultLimits() // the same bounds per room as in memory, kept in Redis
		o.Backend = redisbroker.New(rdb, redisbroker.Options{Prefix: redisPrefix, MaxLen: l.RoomLog, MaxAge: l.RoomAge})
		o.BackendName = "Redis Streams at " + *redisAddr
	}
	c := New(o)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	stop := fw.Serve(ln, c)
	log.Printf("chat on %s (%s): open http://%s/", fw.Name, o.BackendName, ln.Addr())

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	<-ctx.Done()
	shutdown, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	if err := stop(shutdown); err != nil {
		log.Print(err)
	}
	if rdb != nil {
		rdb.Close() // after the broker, which closed its backend
	}
}
