//go:build !linux

package main

import "syscall"

// setPdeathsig does nothing where the system has no parent-death signal.
func setPdeathsig(*syscall.SysProcAttr) {}
