package load

import (
	"io"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ssekit/ssekit/benchmarks/internal/subjects"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, fasthttpSleepers...)
}

// fasthttpSleepers are fasthttp's own background goroutines: its date
// updater (process-wide, forever) and each server's worker-pool cleaner, which
// sleeps up to 10 s before it sees the pool stopped.
var fasthttpSleepers = []goleak.Option{
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
}

// TestServeIdleChurn runs the idle and churn workloads briefly against every
// subject through the server protocol, in process: every stream opened is
// seen open by the server and, for subjects that notice clients leave, gone
// again after churn.
func TestServeIdleChurn(t *testing.T) {
	for _, s := range subjects.All {
		t.Run(s.ID, func(t *testing.T) {
			inR, inW := io.Pipe()
			outR, outW := io.Pipe()
			served := make(chan error, 1)
			go func() {
				err := Serve(s.ID, 50*time.Millisecond, inR, outW)
				outW.Close()
				served <- err
			}()
			rem, err := Connect(inW, outR, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			const n = 20
			conns, err := OpenIdle(rem.Addr, n, 4, deadline, nil)
			if err != nil {
				t.Fatal(err)
			}
			st, ok, err := rem.WaitFor(10*time.Second, func(st Stats) bool { return st.Open == n })
			if err != nil || !ok {
				t.Fatalf("%d of %d streams open: %v", st.Open, n, err)
			}
			CloseAll(conns)
			if err := Churn(rem.Addr, 50, 4, deadline, nil); err != nil {
				t.Fatal(err)
			}
			if s.ID != "base-fasthttp" { // fasthttp gives its own streams no disconnect signal
				st, ok, err := rem.WaitFor(10*time.Second, func(st Stats) bool { return st.Open == 0 })
				if err != nil || !ok {
					t.Fatalf("%d streams still open: %v", st.Open, err)
				}
			}
			if err := rem.Quit(); err != nil {
				t.Fatal(err)
			}
			if err := <-served; err != nil {
				t.Fatal(err)
			}
		})
	}
}
