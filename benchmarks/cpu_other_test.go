//go:build !unix

package benchmarks

import "time"

// cpuTime is not measured here: the cpu-ns figures read 0.
func cpuTime() time.Duration { return 0 }
