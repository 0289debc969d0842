package recovery

import (
	"context"
	"fmt"

	"github.com/tfguard/tf/tfout"
)

// credentials renews (when the wrapper can) and proves the credentials
// work by pulling the remote state with terraform itself.
func (s *pass) credentials(ctx context.Context) (note string, stop *stepStop) {
	if c := s.j.Class.Cause; s.r.Renew != nil && (c == tfout.CauseExpired || c == tfout.CauseVanished || c == "") {
		env, err := s.r.Renew(ctx, s.r.Env)
		if st := interrupted(ctx, StepCredentials); err != nil && st != nil {
			return note, st
		}
		if err != nil {
			return note, &stepStop{step: StepCredentials, retry: retryCredentials, err: fmt.Errorf("credentials could not be renewed: %w", err)}
		}
		if env != nil {
			s.r.Env = env
			s.env = sideCallEnv(env, s.j.Backend)
		}
	}
	remote, st := s.pull(ctx, StepCredentials)
	if st != nil {
		return note, st
	}
	s.remote = &remote
	note = "credentials work: pulled the backend's state (" + remote.String() + ")"
	return note, nil
}
