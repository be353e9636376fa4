package childproc

import "syscall"

// SetPdeathsig makes a process started with a die with its parent, so that
// an interrupted run leaves no child behind.
func SetPdeathsig(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
