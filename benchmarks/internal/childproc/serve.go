package childproc

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
)

// WriteReply writes r as one reply line on out: a child's hello, written
// before [Serve] takes requests.
func WriteReply(out io.Writer, r any) error {
	return json.NewEncoder(out).Encode(r)
}

// Serve is a child's side: it reads requests from in and writes the reply
// of handle to each on out, until "quit" (answered) or the end of in,
// which is an error. A line that does not decode is answered with only an
// "error". maxRequest bounds a request line; 0 leaves bufio.Scanner's
// default (64 KiB).
func Serve[Q Request, R Reply](in io.Reader, out io.Writer, maxRequest int, handle func(Q) R) error {
	sc := bufio.NewScanner(in)
	if maxRequest > 0 {
		sc.Buffer(make([]byte, 64<<10), maxRequest)
	}
	enc := json.NewEncoder(out)
	for sc.Scan() {
		var q Q
		if err := json.Unmarshal(sc.Bytes(), &q); err != nil {
			bad := struct {
				Error string `json:"error"`
			}{"bad request: " + err.Error()}
			if err := enc.Encode(bad); err != nil {
				return err
			}
			continue
		}
		r := handle(q)
		if err := enc.Encode(r); err != nil {
			return err
		}
		if q.Operation() == "quit" {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return errors.New("stdin closed")
}
