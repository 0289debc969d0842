//go:build !linux

package wrapper

import "time"

// stdinWatch cannot see terraform wait for input on this OS: Stop always
// reports ok false, and runs that may have prompted are not learnt from.
type stdinWatch struct{}

func startStdinWatch() *stdinWatch { return &stdinWatch{} }

func (*stdinWatch) Stop() (time.Duration, bool) { return 0, false }
