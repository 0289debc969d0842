package recovery

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// close removes errored.tfstate from the working directory once the
// backend holds its content (verified) and tf's backup is byte-identical.
func (s *pass) close(ctx context.Context) (note string, stop *stepStop) {
	if s.j.Errored == nil {
		return note, nil
	}
	src := filepath.Join(s.r.Dir, erroredFile)
	now := stampFile(src)
	if now == nil {
		return note, nil
	}
	backup := stampFile(filepath.Join(s.j.dir(), backupName))
	if now.SHA256 != s.j.Errored.SHA256 || backup == nil || backup.SHA256 != now.SHA256 {
		note = "left " + src + ": it is not the file this recovery pushed"
		return note, nil
	}
	if err := os.Remove(src); err != nil && !errors.Is(err, os.ErrNotExist) {
		return note, &stepStop{step: StepClose, retry: retryDisk, err: fmt.Errorf("remove errored.tfstate: %w", err)}
	}
	if err := syncDir(s.r.Dir); err != nil {
		return note, &stepStop{step: StepClose, retry: retryDisk, err: err}
	}
	held := "the backend holds it"
	if s.superseded != "" {
		held = "the backend held it when tf verified it"
	}
	note = "removed errored.tfstate from the working directory (" + held + "; tf's copy stays in " + s.j.dir() + ")"
	return note, nil
}
