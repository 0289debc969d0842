package recovery

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tfguard/tf/tfout"
)

// pullState runs `state pull` with env and reads the state it prints; on
// failure it returns terraform's stderr for the caller to classify.
func pullState(ctx context.Context, r Run, env []string) (StateSummary, []byte, error) {
	out, errb, err := r.runner.Run(ctx, buildPull(r.Terraform, r.Dir, env))
	if err != nil {
		return StateSummary{}, errb, err
	}
	sum, err := parseState(out)
	if err != nil {
		return StateSummary{}, nil, errNotState{err}
	}
	return sum, nil, nil
}

// errNotState: state pull succeeded but printed no state tf can read.
type errNotState struct{ error }

func (e errNotState) Unwrap() error { return e.error }

// pull runs `state pull`; its failure is a retryable stop at step.
func (s *pass) pull(ctx context.Context, step string) (StateSummary, *stepStop) {
	sum, errb, err := pullState(ctx, s.r, s.env)
	var bad errNotState
	if errors.As(err, &bad) {
		return StateSummary{}, &stepStop{step: step, retry: retryBackend, err: fmt.Errorf("the backend's state: %w", bad.error)}
	}
	if err != nil {
		c := tfout.ClassifySideCall(errb)
		if c.Expired {
			return StateSummary{}, &stepStop{step: step, retry: retryCredentials,
				err: fmt.Errorf("the credentials are still expired (%s): %s state pull failed", strings.Join(c.Shapes, ", "), s.r.Flavor)}
		}
		return StateSummary{}, &stepStop{step: step, retry: retryBackend, err: fmt.Errorf("%s state pull failed: %w: %s", s.r.Flavor, err, lastLines(errb, 6))}
	}
	return sum, nil
}

// reader returns the backend reader, or a retryable stop.
func (s *pass) reader(ctx context.Context, step string) (backendReader, *stepStop) {
	rd, err := s.r.backend(ctx, s.j.Backend, s.r.Env)
	if st := interrupted(ctx, step); err != nil && st != nil {
		return nil, st
	}
	if err != nil {
		return nil, &stepStop{step: step, retry: retryBackend, err: fmt.Errorf("cannot read the backend with %s: %w", credentialSource(s.j.Backend, s.r.Env), err)}
	}
	return rd, nil
}

// interrupted is the stop for a read cut short by Ctrl-C or SIGTERM.
func interrupted(ctx context.Context, step string) *stepStop {
	if ctx.Err() == nil {
		return nil
	}
	return &stepStop{step: step, retry: retryInterrupted, err: errors.New("interrupted: tf stopped before finishing this step; nothing of it was done")}
}

func (s *pass) readLocks(ctx context.Context, step string) (Locks, *stepStop) {
	l, st := readBackend(s, ctx, step, "the lock records", backendReader.ReadLocks)
	if st == nil {
		s.seen = &l
	}
	return l, st
}

func (s *pass) readStateObject(ctx context.Context, step string) (StateObject, *stepStop) {
	return readBackend(s, ctx, step, "the state object", backendReader.StateObject)
}

// readBackend makes one read of the backend; a failure is a retryable stop
// at step (interrupted when ctx ended).
func readBackend[T any](s *pass, ctx context.Context, step, what string, read func(backendReader, context.Context) (T, error)) (T, *stepStop) {
	var zero T
	rd, st := s.reader(ctx, step)
	if st != nil {
		return zero, st
	}
	v, err := read(rd, ctx)
	if st := interrupted(ctx, step); err != nil && st != nil {
		return zero, st
	}
	if err != nil {
		return zero, &stepStop{step: step, retry: retryBackend, err: fmt.Errorf("cannot read %s with %s: %w", what, credentialSource(s.j.Backend, s.r.Env), err)}
	}
	return v, nil
}

// stateObjectNow reads the state object's identity, nil error only on a
// successful read.
func (s *pass) stateObjectNow(ctx context.Context) (StateObject, error) {
	rd, err := s.r.backend(ctx, s.j.Backend, s.r.Env)
	if err != nil {
		return StateObject{}, err
	}
	return rd.StateObject(ctx)
}

func lastLines(b []byte, n int) string {
	ls := strings.Split(strings.TrimSpace(tfout.Flatten(b)), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	s := strings.Join(ls, " ")
	if len(s) > 600 {
		s = s[len(s)-600:]
	}
	return s
}

func readBackup(j *journal) ([]byte, error) {
	return os.ReadFile(filepath.Join(j.dir(), backupName))
}
