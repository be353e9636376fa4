package redisbroker

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// server is a redis-server (or redis-sentinel) process the test started on
// loopback, in a directory of its own; t.Cleanup kills it.
type server struct {
	t    testing.TB
	name string
	port int
	dir  string
	args []string
	cmd  *exec.Cmd
	exit chan struct{}
}

// redisBinary returns the redis-server binary, failing the test with
// instructions when there is none.
func redisBinary(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is not installed: these tests start their own Redis processes.\n" +
			"Install Debian's redis-server package (scripts/with-services does).")
	}
	return p
}

// freePort returns a loopback TCP port nobody listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startServer starts redis-server with the config lines conf (on top of a
// loopback-only, no-persistence default) and waits until it answers.
func startServer(t testing.TB, name string, conf ...string) *server {
	t.Helper()
	s := &server{t: t, name: name, port: freePort(t), dir: t.TempDir()}
	lines := []string{
		"bind 127.0.0.1",
		"port " + strconv.Itoa(s.port),
		"dir " + s.dir,
		"save \"\"",
		"appendonly no",
		"protected-mode no",
		"logfile " + filepath.Join(s.dir, "log"),
	}
	s.write(append(lines, conf...))
	s.args = []string{filepath.Join(s.dir, "redis.conf")}
	s.start()
	t.Cleanup(s.kill)
	return s
}

func (s *server) write(lines []string) {
	if err := os.WriteFile(filepath.Join(s.dir, "redis.conf"), []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		s.t.Fatal(err)
	}
}

func (s *server) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// start runs the process and waits (up to 10 s) until it answers PING.
func (s *server) start() {
	s.t.Helper()
	s.cmd = exec.Command(redisBinary(s.t), s.args...)
	s.cmd.Dir = s.dir
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.exit = make(chan struct{})
	go func(c *exec.Cmd, exit chan struct{}) { _ = c.Wait(); close(exit) }(s.cmd, s.exit)
	c := goredis.NewClient(&goredis.Options{Addr: s.addr(), MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		select {
		case <-s.exit:
			log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
			s.t.Fatalf("%s exited at start: %s", s.name, log)
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s did not answer within 10s: %v", s.name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// signal sends sig to the process.
func (s *server) signal(sig syscall.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("%s: %v", s.name, err)
	}
}

// kill SIGKILLs the process (resuming it first if stopped) and waits for it.
func (s *server) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	_ = s.cmd.Process.Signal(syscall.SIGCONT)
	select {
	case <-s.exit:
	case <-time.After(10 * time.Second):
		s.t.Errorf("%s did not exit after SIGKILL", s.name)
	}
}

// client returns a go-redis client of the server, closed when the test ends.
func (s *server) client(o *goredis.Options) *goredis.Client {
	if o == nil {
		o = &goredis.Options{MaxRetries: -1}
	}
	o.Addr = s.addr()
	c := goredis.NewClient(o)
	s.t.Cleanup(func() { c.Close() })
	return c
}

func (s *server) String() string { return fmt.Sprintf("%s at %s", s.name, s.addr()) }
