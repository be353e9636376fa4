package main

import "syscall"

// setPdeathsig makes a child die with its parent, so that an interrupted run
// leaves no server or client process behind.
func setPdeathsig(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
