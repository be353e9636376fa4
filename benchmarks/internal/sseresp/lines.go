package sseresp

import "bytes"

// LineBuf splits body bytes fed in any pieces into lines.
type LineBuf struct{ part []byte }

// MaxLine bounds a line kept across pieces; longer ones are cut.
const MaxLine = 4096

// Feed hands every line that p completes to on, without its "\n" or
// "\r\n", and keeps the unfinished rest for the next call. The line passed
// to on is valid only during the call.
func (l *LineBuf) Feed(p []byte, on func([]byte)) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(l.part)+len(p) <= MaxLine {
				l.part = append(l.part, p...)
			}
			return
		}
		line := p[:i]
		if len(l.part) > 0 {
			if len(l.part)+i <= MaxLine {
				l.part = append(l.part, line...)
			}
			line = l.part
		}
		on(bytes.TrimSuffix(line, []byte("\r")))
		l.part = l.part[:0]
		p = p[i+1:]
	}
}
