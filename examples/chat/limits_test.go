package chat

import (
	"testing"
	"time"
)

// The tests of the limits through each framework are in package chattest.

// fakeClock is a clock the tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// TestLimiterTable: the rate limiter's table holds at most MaxClients
// clients; a new client is refused while every client in it is still
// limited, and takes the place of one whose bucket has refilled.
func TestLimiterTable(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l := newLimiter(Limits{Rate: 1, Burst: 2, MaxClients: 2})
	l.now = clock.now
	for i, c := range []struct {
		key  string
		want bool
	}{{"a", true}, {"a", true}, {"a", false}, {"b", true}, {"c", false}} {
		if got := l.allow(c.key); got != c.want {
			t.Fatalf("step %d: allow(%q) = %v; want %v", i, c.key, got, c.want)
		}
	}
	clock.advance(time.Second) // a has 1 token, b 2 (full)
	if !l.allow("c") || len(l.buckets) != 2 {
		t.Fatalf("c after b refilled: refused or %d clients; want allowed, 2 clients", len(l.buckets))
	}
	if !l.allow("a") || l.allow("a") {
		t.Fatal("a: want one token after a second, then none")
	}
}

// TestClientKey: IPv4 clients are keyed by address, IPv6 ones by /64.
func TestClientKey(t *testing.T) {
	if clientKey("2001:db8::1") != clientKey("2001:db8::ffff:1") || clientKey("2001:db8::1") == clientKey("2001:db8:0:1::1") {
		t.Error("IPv6 addresses are not keyed by their /64")
	}
	if got := clientKey("::ffff:192.0.2.1"); got != "192.0.2.1" {
		t.Errorf("IPv4-mapped address keyed %q; want 192.0.2.1", got)
	}
	if clientKey("192.0.2.1") == clientKey("192.0.2.2") {
		t.Error("two IPv4 addresses share a key")
	}
}

// TestRoomTableAges: a room counts until RoomAge after its last message,
// then its place goes to a new room.
func TestRoomTableAges(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	rt := newRoomTable(Limits{MaxRooms: 2, RoomAge: time.Minute})
	rt.now = clock.now
	for _, r := range []string{"a", "b"} {
		if !rt.admit(r) {
			t.Fatalf("room %s refused", r)
		}
		rt.published(r)
	}
	clock.advance(30 * time.Second)
	rt.published("b")
	if rt.admit("c") {
		t.Fatal("a third room admitted while two count")
	}
	clock.advance(31 * time.Second) // a is 61 s old, b 31 s
	if !rt.admit("c") || !rt.admit("b") || rt.admit("d") {
		t.Fatal("want c to take a's place, b to still count, and d refused")
	}
}
