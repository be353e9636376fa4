package client

import (
	"testing"
	"unicode/utf8"
)

// TestAppendDecodedUTF8 compares the decoder with the standard's byte-by-byte
// state machine (refDecode) on every two-byte input and on every three- and
// four-byte input built from bytes at the edges of the UTF-8 ranges.
func TestAppendDecodedUTF8(t *testing.T) {
	t.Parallel()
	edges := []byte{0x00, 0x0A, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2,
		0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF}
	var inputs [][]byte
	for i := range 1 << 16 {
		inputs = append(inputs, []byte{byte(i >> 8), byte(i)})
	}
	for _, a := range edges {
		for _, b := range edges {
			for _, c := range edges {
				inputs = append(inputs, []byte{a, b, c})
				for _, d := range edges {
					inputs = append(inputs, []byte{a, b, c, d})
				}
			}
		}
	}
	for _, in := range inputs {
		// A leading "x" keeps refDecode from stripping a byte order mark.
		got := "x" + string(appendDecodedUTF8(nil, in))
		want := refDecode(append([]byte("x"), in...))
		if got != want {
			t.Errorf("appendDecodedUTF8(%q): got %q; want %q", in, got, want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("appendDecodedUTF8(%q): got invalid UTF-8 %q; want valid", in, got)
		}
	}
}
