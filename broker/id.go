package broker

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// ID is an event id as the broker assigns and compares it: two unsigned
// integers written "ms-seq", the form of Redis stream ids. Backends assign
// ms from the clock in Unix milliseconds and count seq up from 0 within a
// millisecond, so ids grow with time and every id a backend assigns is
// greater than all earlier ones, across all topics.
//
// Ids compare as number pairs ([ID.Compare]), not as strings: "5-10"
// follows "5-9". The zero ID, "0-0", precedes every event.
type ID struct {
	Ms  uint64 // Unix time in milliseconds, for assigned ids
	Seq uint64 // sequence within the millisecond
}

// ErrInvalidID is matched by the error for an id that is not of the form
// "ms-seq" (or "ms", read as "ms-0") with two unsigned decimal integers.
var ErrInvalidID = errors.New("ssekit: invalid broker event id")

// ParseID parses "ms-seq" or "ms" (which means "ms-0"); both parts are
// unsigned decimal integers that fit in 64 bits.
func ParseID(s string) (ID, error) {
	ms, seq, found := strings.Cut(s, "-")
	a, err := parseUint(ms)
	if err != nil {
		return ID{}, invalidID(s)
	}
	var b uint64
	if found {
		if b, err = parseUint(seq); err != nil {
			return ID{}, invalidID(s)
		}
	}
	return ID{Ms: a, Seq: b}, nil
}

// parseUint parses a non-empty run of ASCII digits (no sign, no spaces).
func parseUint(s string) (uint64, error) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, ErrInvalidID
	}
	return strconv.ParseUint(s, 10, 64)
}

func invalidID(s string) error {
	return errors.Join(ErrInvalidID, errors.New("ssekit: "+strconv.Quote(s)+" is not ms-seq"))
}

// String returns the canonical form "ms-seq".
func (id ID) String() string {
	return string(id.Append(make([]byte, 0, 24)))
}

// Append appends the canonical form "ms-seq" to dst.
func (id ID) Append(dst []byte) []byte {
	dst = strconv.AppendUint(dst, id.Ms, 10)
	dst = append(dst, '-')
	return strconv.AppendUint(dst, id.Seq, 10)
}

// Compare returns -1, 0 or +1 as id is before, equal to or after o.
func (id ID) Compare(o ID) int {
	switch {
	case id.Ms < o.Ms:
		return -1
	case id.Ms > o.Ms:
		return 1
	case id.Seq < o.Seq:
		return -1
	case id.Seq > o.Seq:
		return 1
	}
	return 0
}

// IsZero reports whether id is "0-0", which the broker reads as "none".
func (id ID) IsZero() bool { return id == ID{} }

// ErrIDSpace is matched by the error of a Publish that needs an id after
// the greatest one there is, "18446744073709551615-18446744073709551615":
// ids never wrap around nor repeat.
var ErrIDSpace = errors.New("ssekit: no event id left after the last one")

// Next returns the id a backend assigns after id at time ms (Unix
// milliseconds): ms-0 when the clock moved past id, otherwise id with its
// sequence incremented, so ids keep growing even when the clock steps back.
// A sequence at its maximum carries into the next millisecond. After the
// greatest id there is no next: Next returns id itself, and ok is false.
func (id ID) Next(ms uint64) (next ID, ok bool) {
	switch {
	case ms > id.Ms:
		return ID{Ms: ms}, true
	case id.Seq < math.MaxUint64:
		return ID{Ms: id.Ms, Seq: id.Seq + 1}, true
	case id.Ms < math.MaxUint64:
		return ID{Ms: id.Ms + 1}, true
	}
	return id, false
}
