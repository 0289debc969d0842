package recovery

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// secureAhead secures the pending recovery's errored.tfstate now, before a
// run for another state in the same working directory may overwrite it.
// Nothing to do when it is secured already or the file is no longer the
// run's own (the resumed recovery says so).
func (s *pass) secureAhead(ctx context.Context) *stepStop {
	j := s.j
	if j.done(StepSecure) || j.ErroredSeen == nil {
		return nil
	}
	if now := markFile(filepath.Join(s.r.Dir, erroredFile)); now == nil || now.SHA256 != j.ErroredSeen.SHA256 {
		clearUnsecured(s.r.Dir, j) // nothing of the run's left to secure here
		return nil
	}
	if err := j.record(StepSecure, "begun", "", s.r.Now()); err != nil {
		return &stepStop{step: StepSecure, retry: retryDisk, err: err}
	}
	note, st := s.secure(ctx)
	if st != nil {
		_ = j.record(StepSecure, "stopped", st.err.Error(), s.r.Now())
		return st
	}
	if err := j.record(StepSecure, "done", note, s.r.Now()); err != nil {
		return &stepStop{step: StepSecure, retry: retryDisk, err: err}
	}
	clearUnsecured(s.r.Dir, j)
	fmt.Fprintf(s.r.Out, "tf: %s, for the recovery pending in %s\n", note, j.dir())
	return nil
}

// secure copies errored.tfstate, fsync'd, into the recovery directory:
// only the very file the failed run left.
func (s *pass) secure(ctx context.Context) (note string, stop *stepStop) {
	src := filepath.Join(s.r.Dir, erroredFile)
	dst := filepath.Join(s.j.dir(), backupName)
	raw, err := os.ReadFile(src)
	if errors.Is(err, os.ErrNotExist) {
		return note, &stepStop{step: StepSecure, final: true, noState: true, err: fmt.Errorf("%s is gone before tf secured a copy of it (removed or moved by hand?): tf cannot tell whether its content reached the backend, so it does nothing more here", src)}
	}
	if err != nil {
		return note, &stepStop{step: StepSecure, retry: retryDisk, err: fmt.Errorf("read %s: %w", src, err)}
	}
	if seen := s.j.ErroredSeen; seen != nil {
		if now := markBytes(raw, time.Time{}); now.SHA256 != seen.SHA256 {
			return note, &stepStop{step: StepSecure, final: true, noState: true, err: fmt.Errorf("%s is not the file this run left: when the run failed it was %s; now it is %s (written since, by another run in this directory or by hand). "+
				"tf secures and pushes only the failed run's own file, so it does nothing more here; the lock is kept so nobody builds on the old state", src, seen, now)}
		}
	}
	sum, err := parseState(raw)
	if err != nil {
		return note, &stepStop{step: StepSecure, final: true, err: fmt.Errorf("%s: %w; left where it is", src, err)}
	}
	if err := writeFileSync(dst, raw); err != nil {
		return note, &stepStop{step: StepSecure, retry: retryDisk, err: err}
	}
	s.j.setErrored(&sum)
	note = fmt.Sprintf("copied errored.tfstate (%s) to %s", sum, dst)
	return note, nil
}
