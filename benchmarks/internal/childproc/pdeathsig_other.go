//go:build !linux

package childproc

import "syscall"

// SetPdeathsig does nothing where the system has no parent-death signal.
func SetPdeathsig(*syscall.SysProcAttr) {}
