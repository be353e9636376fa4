// Package wire is the benchmark client: a raw loopback HTTP/1.1 client that
// sends one GET, reads the response headers, decodes chunked framing without
// copying, and hands the body bytes to a callback. It never parses events in
// the hot path: [Counter] only counts the blank lines that end events.
package wire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// Conn is one open stream.
type Conn struct {
	c       net.Conn
	br      *bufio.Reader
	chunked bool
	Status  int // the response status
}

// ReadBufferSize is the client's read buffer: large, so that a burst is read
// with few syscalls.
const ReadBufferSize = 64 << 10

// Dial connects to addr (host:port on 127.0.0.1), sends GET path and reads the
// response headers, all before deadline. It does not read the body.
func Dial(addr, path string, deadline time.Time) (*Conn, error) {
	return DialSize(addr, path, deadline, ReadBufferSize)
}

// DialSize is Dial with a read buffer of bufSize bytes, for clients that hold
// many streams open and read little.
func DialSize(addr, path string, deadline time.Time, bufSize int) (*Conn, error) {
	d := net.Dialer{Deadline: deadline}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	conn, err := Start(c, path, deadline, bufSize)
	if err != nil {
		c.Close()
		return nil, err
	}
	return conn, nil
}

// Start sends GET path on c and reads the response headers with a bufio
// reader of size bufSize. The deadline applies to the headers only.
func Start(c net.Conn, path string, deadline time.Time, bufSize int) (*Conn, error) {
	if err := c.SetDeadline(deadline); err != nil {
		return nil, err
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return nil, err
	}
	conn := &Conn{c: c, br: bufio.NewReaderSize(c, bufSize)}
	if err := conn.readHeader(); err != nil {
		return nil, err
	}
	return conn, c.SetDeadline(time.Time{})
}

// readHeader reads the status line and the headers.
func (c *Conn) readHeader() error {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return fmt.Errorf("status line: %w", err)
	}
	f := bytes.Fields(line)
	if len(f) < 2 || !bytes.HasPrefix(f[0], []byte("HTTP/1.")) {
		return fmt.Errorf("bad status line %q", line)
	}
	if c.Status, err = strconv.Atoi(string(f[1])); err != nil {
		return fmt.Errorf("bad status line %q", line)
	}
	for i := 0; i < 100; i++ {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("headers: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			return nil
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(k), []byte("Transfer-Encoding")) &&
			bytes.EqualFold(bytes.TrimSpace(v), []byte("chunked")) {
			c.chunked = true
		}
	}
	return errors.New("too many headers")
}

// SetDeadline bounds the reads that follow.
func (c *Conn) SetDeadline(t time.Time) error { return c.c.SetDeadline(t) }

// Close closes the connection.
func (c *Conn) Close() error { return c.c.Close() }

// ErrStop may be returned by a Body callback to stop reading early.
var ErrStop = errors.New("wire: stop")

// Body reads the body, handing each run of body bytes (already de-chunked) to
// f, until the body ends (nil), f returns ErrStop (nil), f returns another
// error, or reading fails. The slice passed to f is valid only during the call.
func (c *Conn) Body(f func(p []byte) error) error {
	if !c.chunked {
		return c.plainBody(f)
	}
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("chunk size: %w", err)
		}
		size, err := chunkSize(line)
		if err != nil {
			return err
		}
		if size == 0 {
			return nil // trailers are not read: the stream is over
		}
		for size > 0 {
			n := c.br.Buffered()
			if n == 0 {
				n = 1 // fill the buffer
			}
			n = min(n, size)
			p, err := c.br.Peek(n)
			if err != nil {
				return fmt.Errorf("chunk: %w", err)
			}
			size -= len(p)
			ferr := f(p)
			_, _ = c.br.Discard(len(p))
			if ferr == ErrStop {
				return nil
			} else if ferr != nil {
				return ferr
			}
		}
		if line, err = c.br.ReadSlice('\n'); err != nil {
			return fmt.Errorf("chunk end: %w", err)
		} else if len(bytes.TrimRight(line, "\r\n")) != 0 {
			return fmt.Errorf("bad chunk end %q", line)
		}
	}
}

func (c *Conn) plainBody(f func(p []byte) error) error {
	for {
		if _, err := c.br.Peek(1); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		p, _ := c.br.Peek(c.br.Buffered())
		ferr := f(p)
		_, _ = c.br.Discard(len(p))
		if ferr == ErrStop {
			return nil
		} else if ferr != nil {
			return ferr
		}
	}
}

// chunkSize parses a chunk-size line (extensions ignored).
func chunkSize(line []byte) (int, error) {
	n := 0
	for i, b := range line {
		var d byte
		switch {
		case '0' <= b && b <= '9':
			d = b - '0'
		case 'a' <= b && b <= 'f':
			d = b - 'a' + 10
		case 'A' <= b && b <= 'F':
			d = b - 'A' + 10
		default:
			if i == 0 {
				return 0, fmt.Errorf("bad chunk size %q", line)
			}
			return n, nil
		}
		if n > 1<<40 {
			return 0, fmt.Errorf("chunk too large %q", line)
		}
		n = n<<4 | int(d)
	}
	return 0, fmt.Errorf("bad chunk size %q", line)
}

// Counter counts event terminators (blank lines, "\n\n") in body bytes fed
// in any pieces. It assumes LF line endings, which every server measured
// here writes.
type Counter struct {
	N      int  // terminators seen
	prevNL bool // the last byte fed was an unpaired '\n'
}

var nlnl = []byte("\n\n")

// Feed counts the terminators in p, including one split across calls.
func (c *Counter) Feed(p []byte) {
	if len(p) == 0 {
		return
	}
	if c.prevNL && p[0] == '\n' {
		c.N++
		p = p[1:]
	}
	c.N += bytes.Count(p, nlnl)
	// A run of k trailing LFs pairs left to right: the last is unpaired
	// when k is odd.
	k := 0
	for k < len(p) && p[len(p)-1-k] == '\n' {
		k++
	}
	c.prevNL = k%2 == 1
}

// Count reads the stream until want terminators are seen (or the body ends)
// and returns how many were seen.
func (c *Conn) Count(want int) (int, error) {
	var ctr Counter
	err := c.Body(func(p []byte) error {
		ctr.Feed(p)
		if ctr.N >= want {
			return ErrStop
		}
		return nil
	})
	return ctr.N, err
}

// Events splits body bytes into events and hands each event's text (the
// lines before its blank line, without the final newline) to a callback. It
// is for low-rate streams: it copies.
type Events struct {
	buf []byte
	On  func(ev []byte) error
}

// Feed adds body bytes, calling On for each complete event.
func (e *Events) Feed(p []byte) error {
	e.buf = append(e.buf, p...)
	for {
		i := bytes.Index(e.buf, nlnl)
		if i < 0 {
			return nil
		}
		ev := e.buf[:i]
		if err := e.On(ev); err != nil {
			return err
		}
		e.buf = e.buf[i+2:]
	}
}

// Field returns the value of the first line "name:value" in ev (one optional
// space after the colon removed).
func Field(ev []byte, name string) ([]byte, bool) {
	for len(ev) > 0 {
		line := ev
		if i := bytes.IndexByte(ev, '\n'); i >= 0 {
			line, ev = ev[:i], ev[i+1:]
		} else {
			ev = nil
		}
		if len(line) > len(name) && string(line[:len(name)]) == name && line[len(name)] == ':' {
			v := line[len(name)+1:]
			if len(v) > 0 && v[0] == ' ' {
				v = v[1:]
			}
			return v, true
		}
	}
	return nil, false
}
