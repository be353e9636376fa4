//go:build unix

package fasthttpsse

import "syscall"

// canPeek says that peekFD works on this system.
const canPeek = true

// peekFD copies the first bytes waiting on the socket fd into b without
// taking them from it: n is 0 at the end of the connection, and err is
// syscall.EAGAIN when nothing is waiting.
func peekFD(fd uintptr, b []byte) (n int, err error) {
	for {
		n, _, err = syscall.Recvfrom(int(fd), b, syscall.MSG_PEEK)
		if err != syscall.EINTR {
			return n, err
		}
	}
}
