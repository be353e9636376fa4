package sseresp

import (
	"bufio"
	"fmt"
	"strings"
	"testing"
)

// TestLineBuf checks that lines split across pieces are put together.
func TestLineBuf(t *testing.T) {
	var got []string
	var l LineBuf
	for _, p := range []string{"data: 1 2", " 3\r\n\nda", "ta: 4 5 6\n", "\n"} {
		l.Feed([]byte(p), func(b []byte) { got = append(got, string(b)) })
	}
	want := []string{"data: 1 2 3", "", "data: 4 5 6", ""}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestRead: a chunked body that ends properly returns ErrEnd; one cut
// short does not; a refusal status is an error before any line.
func TestRead(t *testing.T) {
	head := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
	read := func(s string) ([]string, bool, error) {
		var lines []string
		opened := false
		err := Read(bufio.NewReader(strings.NewReader(s)), func() { opened = true },
			func(b []byte) { lines = append(lines, string(b)) })
		return lines, opened, err
	}
	lines, opened, err := read(head + "7\r\ndata: 1\r\n5\r\n\nid: \r\n3\r\n2\n\n\r\n0\r\n\r\n")
	if err != ErrEnd || !opened || fmt.Sprint(lines) != "[data: 1 id: 2 ]" {
		t.Fatalf("got %q, opened %v, %v", lines, opened, err)
	}
	if _, _, err := read(head + "7\r\ndata: 1\r\n"); err == nil || err == ErrEnd {
		t.Fatalf("cut body: %v; want an error other than ErrEnd", err)
	}
	if _, opened, err := read("HTTP/1.1 503 Service Unavailable\r\n\r\n"); err == nil || opened {
		t.Fatalf("503: opened %v, %v", opened, err)
	}
}
