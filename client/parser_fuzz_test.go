package client

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func FuzzParser(f *testing.F) {
	for _, tc := range parseTests {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte("\xEF\xBB\xBF\xEF\xBB\xBFdata: x\r\n\r\n\r"))
	f.Add([]byte("id: 1\r\rdata\x00: \xE2\x82\r\n: c\rretry: 10\n\nevent:e\ndata\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		want := refParse(in)
		for _, rk := range readerKinds {
			got, err := parse(rk.wrap(bytes.NewReader(in)))
			if err != nil {
				t.Fatalf("%s: got error %v; want nil", rk.name, err)
			}
			got.check(t, want)
		}
		if got := ParseAll(in); !slices.Equal(got, want.events) {
			t.Errorf("ParseAll: got %q; want %q", got, want.events)
		}
		for _, ev := range want.events {
			if !utf8.ValidString(ev.Type + ev.Data + ev.LastEventID) {
				t.Errorf("event %q: got invalid UTF-8; want valid", ev)
			}
		}
	})
}

// refParse is the fuzz oracle: a literal transcription of the standard that
// shares no code with Parser. It decodes the whole stream first, then splits
// it into lines with string operations, then interprets each line.
func refParse(in []byte) result {
	s := refDecode(in)
	var lines []string
	for {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			break // an unterminated final line is pending data: discarded
		}
		lines = append(lines, s[:i])
		if strings.HasPrefix(s[i:], "\r\n") {
			i++
		}
		s = s[i+1:]
	}
	var res result
	var data, eventType, idBuffer string
	for _, line := range lines {
		if line == "" {
			res.lastID = idBuffer
			if data == "" {
				eventType = ""
				continue
			}
			ev := Event{Type: "message", Data: strings.TrimSuffix(data, "\n"), LastEventID: res.lastID}
			if eventType != "" {
				ev.Type = eventType
			}
			res.events = append(res.events, ev)
			data, eventType = "", ""
			continue
		}
		if line[0] == ':' {
			res.comments = append(res.comments, line[1:])
			continue
		}
		field, value, found := strings.Cut(line, ":")
		if found {
			value = strings.TrimPrefix(value, " ")
		}
		switch field {
		case "event":
			eventType = value
		case "data":
			data += value + "\n"
		case "id":
			if !strings.Contains(value, "\x00") {
				idBuffer = value
			}
		case "retry":
			if value != "" && strings.Trim(value, "0123456789") == "" {
				ms, err := strconv.ParseInt(value, 10, 64)
				if err != nil || ms > math.MaxInt64/int64(time.Millisecond) {
					res.retries = append(res.retries, time.Duration(math.MaxInt64))
				} else {
					res.retries = append(res.retries, time.Duration(ms)*time.Millisecond)
				}
			}
		}
	}
	return res
}

// refDecode is the Encoding standard's "UTF-8 decode", step by step: strip
// one leading BOM, then run the UTF-8 decoder's state machine byte by byte.
func refDecode(in []byte) string {
	in = bytes.TrimPrefix(in, []byte{0xEF, 0xBB, 0xBF})
	var out []rune
	var codePoint rune
	bytesNeeded, bytesSeen := 0, 0
	lower, upper := byte(0x80), byte(0xBF)
	for i := 0; i < len(in); {
		b := in[i]
		i++
		if bytesNeeded == 0 {
			switch {
			case b <= 0x7F:
				out = append(out, rune(b))
			case 0xC2 <= b && b <= 0xDF:
				bytesNeeded, codePoint = 1, rune(b&0x1F)
			case 0xE0 <= b && b <= 0xEF:
				if b == 0xE0 {
					lower = 0xA0
				}
				if b == 0xED {
					upper = 0x9F
				}
				bytesNeeded, codePoint = 2, rune(b&0xF)
			case 0xF0 <= b && b <= 0xF4:
				if b == 0xF0 {
					lower = 0x90
				}
				if b == 0xF4 {
					upper = 0x8F
				}
				bytesNeeded, codePoint = 3, rune(b&0x7)
			default:
				out = append(out, utf8.RuneError)
			}
			continue
		}
		if b < lower || b > upper {
			codePoint, bytesNeeded, bytesSeen = 0, 0, 0
			lower, upper = 0x80, 0xBF
			i-- // restore b to the stream
			out = append(out, utf8.RuneError)
			continue
		}
		lower, upper = 0x80, 0xBF
		codePoint = codePoint<<6 | rune(b&0x3F)
		bytesSeen++
		if bytesSeen == bytesNeeded {
			out = append(out, codePoint)
			codePoint, bytesNeeded, bytesSeen = 0, 0, 0
		}
	}
	if bytesNeeded != 0 {
		out = append(out, utf8.RuneError)
	}
	return string(out)
}
