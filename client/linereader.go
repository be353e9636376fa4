package client

import (
	"bytes"
	"errors"
	"io"
)

const (
	initialBufSize = 4 << 10  // first buffer size
	maxIdleBufSize = 64 << 10 // a buffer grown past this is dropped once it is empty
	maxEmptyReads  = 100      // consecutive (0, nil) reads before giving up
)

// errInvalidRead reports a reader that returned a byte count outside [0, len(p)].
var errInvalidRead = errors.New("ssekit: reader returned an invalid byte count")

// lineReader splits a byte stream into lines. A line ends with CRLF, with a
// lone LF, or with a lone CR, as the event stream format says; a CRLF split
// across two reads is still one line ending. Lines may be of any length.
//
// A line is returned as soon as its line ending has arrived, so a live stream
// is never read further than it must be.
type lineReader struct {
	r      io.Reader
	buf    []byte
	start  int   // buf[start:end] holds the bytes not yet returned
	end    int   //
	scan   int   // buf[start:scan] is known to hold no CR or LF
	skipLF bool  // the last line ended with CR: an LF right after it is part of that line ending
	err    error // sticky error from r
}

// readLine returns the next line without its line ending. The line aliases
// the internal buffer and is valid only until the next call. At the end of
// the stream, or on a read error, it returns the error and discards any
// unterminated line; it returns that same error on every later call.
func (lr *lineReader) readLine() ([]byte, error) {
	for {
		if lr.skipLF && lr.start < lr.end {
			lr.skipLF = false
			if lr.buf[lr.start] == '\n' {
				lr.start++
				lr.scan = max(lr.scan, lr.start)
			}
		}
		if i := bytes.IndexAny(lr.buf[lr.scan:lr.end], "\r\n"); i >= 0 {
			eol := lr.scan + i
			line := lr.buf[lr.start:eol]
			lr.skipLF = lr.buf[eol] == '\r'
			lr.start, lr.scan = eol+1, eol+1
			return line, nil
		}
		lr.scan = lr.end
		if lr.err != nil {
			return nil, lr.err
		}
		lr.fill()
	}
}

// fill makes room in the buffer and reads into it once, recording any error.
func (lr *lineReader) fill() {
	switch {
	case lr.start == lr.end:
		if len(lr.buf) > maxIdleBufSize {
			lr.buf = nil
		}
		lr.start, lr.end, lr.scan = 0, 0, 0
	case lr.start > 0:
		// Slide the unterminated line to the front. Each byte slides at most
		// once: start stays 0 until that line is complete and returned.
		n := copy(lr.buf, lr.buf[lr.start:lr.end])
		lr.scan -= lr.start
		lr.start, lr.end = 0, n
	}
	if lr.end == len(lr.buf) {
		grown := make([]byte, max(2*len(lr.buf), initialBufSize))
		copy(grown, lr.buf[:lr.end])
		lr.buf = grown
	}
	for range maxEmptyReads {
		n, err := lr.r.Read(lr.buf[lr.end:])
		if n < 0 || n > len(lr.buf)-lr.end {
			lr.err = errInvalidRead
			return
		}
		lr.end += n
		if err != nil {
			lr.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	lr.err = io.ErrNoProgress
}
