// Package sseresp reads an event stream's HTTP/1.1 response off a raw
// connection, as the subscriber clients of cmd/fanout and cmd/cluster do:
// the status line (200 wanted), the headers, then the body, de-chunked,
// line by line. It parses no events: that is each command's own.
package sseresp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// BufferSize is each stream's read buffer: events are small, and 10,000
// streams share a client process's memory.
const BufferSize = 2048

// ErrEnd is Read's error for a response whose body ended properly (its
// last chunk).
var ErrEnd = errors.New("response ended")

// Read reads an HTTP/1.1 response from br: the status line (200 wanted),
// the headers (then opened runs, unless nil), and the body, de-chunked,
// line by line to onLine (see [LineBuf]). It returns ErrEnd after the
// body's last chunk, and otherwise the error that ended the response.
func Read(br *bufio.Reader, opened func(), onLine func([]byte)) error {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return fmt.Errorf("status line: %w", err)
	}
	if f := bytes.Fields(line); len(f) < 2 || string(f[1]) != "200" {
		return fmt.Errorf("status %q", bytes.TrimSpace(line))
	}
	chunked := false
	for i := 0; ; i++ {
		if i > 100 {
			return errors.New("too many headers")
		}
		line, err := br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("headers: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		k, v, _ := bytes.Cut(line, []byte(":"))
		if bytes.EqualFold(bytes.TrimSpace(k), []byte("Transfer-Encoding")) &&
			bytes.EqualFold(bytes.TrimSpace(v), []byte("chunked")) {
			chunked = true
		}
	}
	if opened != nil {
		opened()
	}
	var lb LineBuf
	if !chunked {
		for {
			if _, err := br.Peek(1); err != nil {
				return fmt.Errorf("body: %w", err)
			}
			p, _ := br.Peek(br.Buffered())
			lb.Feed(p, onLine)
			_, _ = br.Discard(len(p))
		}
	}
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("chunk size: %w", err)
		}
		size, err := strconv.ParseUint(string(bytes.TrimRight(line, "\r\n")), 16, 40)
		if err != nil {
			return fmt.Errorf("chunk size %q", line)
		}
		if size == 0 {
			return ErrEnd
		}
		for left := int(size); left > 0; {
			if _, err := br.Peek(1); err != nil {
				return fmt.Errorf("chunk: %w", err)
			}
			p, _ := br.Peek(min(left, br.Buffered()))
			lb.Feed(p, onLine)
			_, _ = br.Discard(len(p))
			left -= len(p)
		}
		if line, err = br.ReadSlice('\n'); err != nil {
			return fmt.Errorf("chunk end: %w", err)
		} else if len(bytes.TrimRight(line, "\r\n")) != 0 {
			return fmt.Errorf("bad chunk end %q", line)
		}
	}
}
