package childproc

import (
	"bytes"
	"strings"
	"testing"
)

type testRequest struct {
	Op string `json:"op"`
	N  int    `json:"n,omitempty"`
}

func (q testRequest) Operation() string { return q.Op }

type testReply struct {
	Error string `json:"error,omitempty"`
	N     int    `json:"n,omitempty"`
}

func (r testReply) Failure() string { return r.Error }

// TestServe: each request is answered on its own line, a bad one with an
// error, until quit (answered); the end of the input without quit is an
// error.
func TestServe(t *testing.T) {
	handle := func(q testRequest) testReply { return testReply{N: q.N * 2} }
	in := `{"op":"double","n":21}` + "\n" + `{"op":` + "\n" + quit + `{"op":"double","n":1}` + "\n"
	var out bytes.Buffer
	if err := Serve(strings.NewReader(in), &out, 0, handle); err != nil {
		t.Fatal(err)
	}
	want := `{"n":42}` + "\n" + `{"error":"bad request: unexpected end of JSON input"}` + "\n" + `{}` + "\n"
	if out.String() != want {
		t.Fatalf("got %q; want %q", out.String(), want)
	}
	out.Reset()
	if err := Serve(strings.NewReader(`{"op":"double"}`+"\n"), &out, 0, handle); err == nil {
		t.Fatal("no error at the end of the input without quit")
	}
	long := `{"op":"double","n":1` + strings.Repeat(" ", 70<<10) + "}\n" + quit
	for _, c := range []struct {
		max int
		ok  bool
	}{{0, false}, {1 << 20, true}} {
		out.Reset()
		err := Serve(strings.NewReader(long), &out, c.max, handle)
		if (err == nil) != c.ok || c.ok && !strings.HasPrefix(out.String(), `{"n":2}`) {
			t.Errorf("a 70 KiB request with maxRequest %d: %v, %q", c.max, err, out.String())
		}
	}
}
