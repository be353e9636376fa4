//go:build !unix

package fasthttpsse

import "errors"

// canPeek says that peekFD works on this system: streams are not watched here.
const canPeek = false

func peekFD(uintptr, []byte) (int, error) { return 0, errors.ErrUnsupported }
