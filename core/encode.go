package core

import (
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"
)

// AppendMessage appends the wire form of m to dst and returns the extended
// buffer. On error dst is returned unchanged: nothing is appended.
//
// String and []byte data are encoded without allocating.
func AppendMessage(dst []byte, m Message) ([]byte, error) {
	// Fast path, the common small event: short string data that is one line of
	// ASCII, ASCII id and event without line breaks or NUL, a valid retry and
	// no comment. It is valid as it stands, and data needs no line splitting.
	// Longer data goes the general way, whose vectorised scans are then faster.
	if data, ok := m.Data.(string); ok && len(data) <= maxOneLine && m.Comment == "" &&
		(m.Retry == 0 || m.Retry >= time.Millisecond) &&
		plainASCII(m.ID) && plainASCII(m.Event) && lineASCII(data) {
		dst = m.appendHead(dst)
		dst = append(dst, "data: "...)
		dst = append(dst, data...)
		return append(dst, '\n', '\n'), nil
	}
	data, hasData, err := m.payload()
	if err != nil {
		return dst, err
	}
	if err := m.check(data); err != nil {
		return dst, err
	}
	if m.Comment != "" {
		dst = appendLines(dst, ":", m.Comment)
	}
	dst = m.appendHead(dst)
	if hasData || m.ID != "" || m.Event != "" {
		dst = appendLines(dst, "data:", data)
		dst = append(dst, '\n')
	}
	return dst, nil
}

// appendHead appends the id, event and retry fields of a valid m.
func (m *Message) appendHead(dst []byte) []byte {
	if m.ID != "" {
		dst = append(dst, "id: "...)
		dst = append(dst, m.ID...)
		dst = append(dst, '\n')
	}
	if m.Event != "" {
		dst = append(dst, "event: "...)
		dst = append(dst, m.Event...)
		dst = append(dst, '\n')
	}
	if m.Retry > 0 {
		dst = append(dst, "retry: "...)
		dst = appendMillis(dst, uint64(m.Retry)/uint64(time.Millisecond))
		dst = append(dst, '\n')
	}
	return dst
}

// appendMillis appends u in decimal. Values below 10000 (retries under ten
// seconds, the usual ones) take one fixed-size append of digit pairs, cheaper
// than strconv's buffer and copy.
func appendMillis(dst []byte, u uint64) []byte {
	if u >= 10000 {
		return strconv.AppendUint(dst, u, 10)
	}
	hi, lo := u/100*2, u%100*2 // offsets in digitPairs
	switch {
	case u >= 1000:
		return append(dst, digitPairs[hi], digitPairs[hi+1], digitPairs[lo], digitPairs[lo+1])
	case u >= 100:
		return append(dst, digitPairs[hi+1], digitPairs[lo], digitPairs[lo+1])
	case u >= 10:
		return append(dst, digitPairs[lo], digitPairs[lo+1])
	}
	return append(dst, digitPairs[lo+1])
}

// digitPairs holds "00" to "99".
const digitPairs = "00010203040506070809" + "10111213141516171819" + "20212223242526272829" +
	"30313233343536373839" + "40414243444546474849" + "50515253545556575859" +
	"60616263646566676869" + "70717273747576777879" + "80818283848586878889" + "90919293949596979899"

// maxOneLine is the longest data the fast path of AppendMessage scans itself.
// On longer data the general path's vectorised scans (utf8.ValidString,
// strings.IndexByte) beat lineASCII; by estimate they break even near 200 bytes.
const maxOneLine = 128

// lineASCII reports whether s is ASCII without CR or LF: a single data line,
// valid UTF-8. It reads s a word (eight bytes) at a time, two per test.
func lineASCII(s string) bool {
	switch {
	case len(s) < 8:
		for i := 0; i < len(s); i++ {
			if c := s[i]; c >= 0x80 || c == '\n' || c == '\r' {
				return false
			}
		}
		return true
	case len(s) <= 16: // first and last words, which may overlap
		return lineBits(load64(s))|lineBits(load64(s[len(s)-8:])) == 0
	}
	for rest := s; len(rest) > 16; rest = rest[16:] {
		if lineBits(load64(rest))|lineBits(load64(rest[8:])) != 0 {
			return false
		}
	}
	last := s[len(s)-16:] // overlaps what the loop read
	return lineBits(load64(last))|lineBits(load64(last[8:])) == 0
}

// load64 returns the first eight bytes of s (at least eight) as a word.
func load64(s string) uint64 {
	_ = s[7] // one bounds check
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// lineBits returns zero if the eight bytes of w are ASCII without CR or LF.
// A non-ASCII byte sets its own high bit; once all bytes are ASCII, x-ones has
// a high bit set only in or above a zero byte of x, so the test is exact.
func lineBits(w uint64) uint64 {
	const ones, high = 0x0101010101010101, 0x8080808080808080
	return (w | (w ^ '\n'*ones - ones) | (w ^ '\r'*ones - ones)) & high
}

// WriteTo writes the wire form of m to w. It implements io.WriterTo; an invalid
// message writes nothing and returns an error matching ErrInvalidField.
func (m Message) WriteTo(w io.Writer) (int64, error) {
	bp := getBuf()
	defer putBuf(bp)
	b, err := AppendMessage((*bp)[:0], m)
	if err != nil {
		return 0, err
	}
	*bp = b
	n, err := w.Write(b)
	return int64(n), err
}

// marshalled returns m with data that needs JSON already encoded, as a
// json.RawMessage, so that a caller holding a lock does not run the data's
// MarshalJSON (user code, which may panic or block) under it.
func (m Message) marshalled() (Message, error) {
	switch m.Data.(type) {
	case string, nil, []byte, json.RawMessage:
		return m, nil
	}
	b, err := json.Marshal(m.Data)
	if err != nil {
		return m, err
	}
	m.Data = json.RawMessage(b)
	return m, nil
}

// payload returns the data as text and whether the message has data at all.
func (m *Message) payload() (string, bool, error) {
	switch d := m.Data.(type) {
	case string:
		return d, true, nil
	case nil:
		return "", false, nil
	case []byte:
		return bytesView(d), true, nil
	case json.RawMessage:
		return bytesView(d), true, nil
	default:
		b, err := json.Marshal(d)
		if err != nil {
			return "", false, err
		}
		return bytesView(b), true, nil
	}
}

// check validates every field against what the standard can carry.
func (m *Message) check(data string) error {
	// Fast path: ASCII id and event without line breaks or NUL, valid data.
	if m.Retry >= time.Millisecond || m.Retry == 0 {
		if plainASCII(m.ID) && plainASCII(m.Event) && (m.Comment == "" || utf8.ValidString(m.Comment)) &&
			utf8.ValidString(data) && (m.Data != nil || m.ID != "" || m.Event != "" || m.Retry != 0 || m.Comment != "") {
			return nil
		}
	}
	return m.checkSlow(data)
}

// plainASCII reports whether s is ASCII without CR, LF or NUL.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || c == '\n' || c == '\r' || c == 0 {
			return false
		}
	}
	return true
}

// checkSlow finds what is wrong with a message, or accepts non-ASCII text.
func (m *Message) checkSlow(data string) error {
	switch {
	case m.Retry < 0:
		return &fieldError{"Retry", "negative duration"}
	case m.Retry > 0 && m.Retry < time.Millisecond:
		return &fieldError{"Retry", "below one millisecond"}
	case strings.ContainsAny(m.ID, "\r\n\x00"):
		return &fieldError{"ID", "contains CR, LF or NUL"}
	case strings.ContainsAny(m.Event, "\r\n"):
		return &fieldError{"Event", "contains CR or LF"}
	case !utf8.ValidString(m.ID):
		return &fieldError{"ID", "not valid UTF-8"}
	case !utf8.ValidString(m.Event):
		return &fieldError{"Event", "not valid UTF-8"}
	case !utf8.ValidString(m.Comment):
		return &fieldError{"Comment", "not valid UTF-8"}
	case !utf8.ValidString(data):
		return &fieldError{"Data", "not valid UTF-8"}
	case m.Data == nil && m.ID == "" && m.Event == "" && m.Retry == 0 && m.Comment == "":
		return &fieldError{"Message", "empty: no data, id, event, retry or comment"}
	}
	return nil
}

// appendLines appends one "<field> <line>\n" per line of s, splitting on CRLF,
// CR and LF. A trailing line break yields a final empty line, so it survives.
// Each byte is scanned a bounded number of times, whatever the mix of breaks.
func appendLines(dst []byte, field, s string) []byte {
	if strings.IndexByte(s, '\r') < 0 { // LF only: one scan per line
		for {
			lf := strings.IndexByte(s, '\n')
			dst = append(dst, field...)
			dst = append(dst, ' ')
			if lf < 0 {
				dst = append(dst, s...)
				return append(dst, '\n')
			}
			dst = append(dst, s[:lf+1]...)
			s = s[lf+1:]
		}
	}
	lf := strings.IndexByte(s, '\n')
	for {
		head := s
		if lf >= 0 {
			head = s[:lf]
		}
		end := strings.IndexByte(head, '\r')
		if end < 0 {
			end = lf
		}
		dst = append(dst, field...)
		dst = append(dst, ' ')
		if end < 0 {
			dst = append(dst, s...)
			return append(dst, '\n')
		}
		dst = append(dst, s[:end]...)
		dst = append(dst, '\n')
		next := end + 1
		if s[end] == '\r' && next < len(s) && s[next] == '\n' {
			next++
		}
		s = s[next:]
		if lf >= 0 {
			if lf -= next; lf < 0 {
				lf = strings.IndexByte(s, '\n')
			}
		}
	}
}

// bytesView returns b as a string without copying; the caller must not keep it
// beyond the call that uses it.
func bytesView(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
