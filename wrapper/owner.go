package wrapper

import (
	"io"

	"github.com/tfguard/tf/recovery"
)

// withOwner also streams terraform's stdout to the run's owner record, whose
// progress file keeps the changes started and completed (recovery/owner.go).
func withOwner(w io.Writer, o *recovery.OwnerWriter) io.Writer {
	if o == nil {
		return w
	}
	return io.MultiWriter(w, o)
}
