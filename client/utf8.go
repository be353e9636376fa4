package client

import "unicode/utf8"

// appendDecodedUTF8 appends b to dst, decoded as the WHATWG Encoding
// standard's UTF-8 decoder does: well-formed sequences are kept and every
// maximal ill-formed subsequence (a lead byte followed by as many of its
// expected continuation bytes as are present, or any other stray byte) becomes
// one U+FFFD.
//
// The parser decodes line by line. That equals decoding the whole stream,
// because CR and LF are never part of a multi-byte sequence: in the standard's
// decoder they end any pending sequence with one U+FFFD, as the end of b does
// here.
func appendDecodedUTF8(dst, b []byte) []byte {
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r != utf8.RuneError || size > 1 { // size > 1: a literal U+FFFD
			dst = append(dst, b[:size]...)
			b = b[size:]
			continue
		}
		dst = utf8.AppendRune(dst, utf8.RuneError)
		b = b[illFormedLen(b):]
	}
	return dst
}

// illFormedLen returns the length of the maximal ill-formed subsequence at
// the start of b, which must not start with a well-formed sequence.
func illFormedLen(b []byte) int {
	lo, hi := byte(0x80), byte(0xBF) // range of the next continuation byte
	var need int                     // continuation bytes the lead byte expects
	switch c := b[0]; {
	case 0xC2 <= c && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0 // no overlong forms
	case c == 0xED:
		need, hi = 2, 0x9F // no surrogates
	case 0xE1 <= c && c <= 0xEF:
		need = 2
	case c == 0xF0:
		need, lo = 3, 0x90 // no overlong forms
	case c == 0xF4:
		need, hi = 3, 0x8F // nothing above U+10FFFF
	case 0xF1 <= c && c <= 0xF3:
		need = 3
	default:
		return 1
	}
	n := 1
	for n <= need && n < len(b) && lo <= b[n] && b[n] <= hi {
		n++
		lo, hi = 0x80, 0xBF
	}
	return n
}
