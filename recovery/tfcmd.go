package recovery

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// Side calls to terraform (state pull, state push, force-unlock) are built
// here, apart from running them, so tests check argv and env without a
// process. terraform-exec is not used for them: it deletes TF_WORKSPACE from
// the child's environment and refuses it in SetEnv, so a run in a workspace
// selected by TF_WORKSPACE would push to the wrong workspace's state.

// Variables removed from side calls: they would change what the side call
// does (extra CLI args), hang it (input prompts) or put trace output (state,
// requests) into the messages tf reports.
var sideCallDrop = []string{"TF_CLI_ARGS", "TF_CLI_ARGS_state", "TF_CLI_ARGS_state_push", "TF_CLI_ARGS_state_pull", "TF_CLI_ARGS_force-unlock", "TF_INPUT", "TF_IN_AUTOMATION", "TF_LOG", "TF_LOG_CORE", "TF_LOG_PROVIDER", "TF_LOG_PATH"}

// sideEnv is the environment of a side call: the run's own (TF_WORKSPACE,
// credentials and endpoints kept), minus sideCallDrop, plus
// TF_IN_AUTOMATION=1 and TF_INPUT=0 (these are tf's calls, not the user's).
func sideEnv(env []string) []string {
	out := make([]string, 0, len(env)+2)
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if slices.Contains(sideCallDrop, k) {
			continue
		}
		out = append(out, kv)
	}
	return append(out, "TF_IN_AUTOMATION=1", "TF_INPUT=0")
}

// tfCall is one built side call.
type tfCall struct {
	Path string
	Args []string
	Dir  string
	Env  []string
}

func (c tfCall) String() string { return c.Path + " " + strings.Join(c.Args, " ") }

func buildPull(tf, dir string, env []string) tfCall {
	return tfCall{Path: tf, Args: []string{"state", "pull"}, Dir: dir, Env: sideEnv(env)}
}

// buildPush pushes path; lockFalse while our own stale lock fences the state.
// Never -force.
func buildPush(tf, dir string, env []string, path string, lockFalse bool) tfCall {
	args := []string{"state", "push"}
	if lockFalse {
		args = append(args, "-lock=false")
	}
	return tfCall{Path: tf, Args: append(args, path), Dir: dir, Env: sideEnv(env)}
}

// buildUnlock releases a lock by its ID. -force only skips the prompt
// (without it terraform asks even with -input=false); the ID is always ours.
func buildUnlock(tf, dir string, env []string, id string) tfCall {
	return tfCall{Path: tf, Args: []string{"force-unlock", "-force", id}, Dir: dir, Env: sideEnv(env)}
}

// runner runs side calls (an interface so the sequence can be driven by a
// fake in tests that need a failure terraform cannot be made to produce).
type runner interface {
	Run(ctx context.Context, c tfCall) (stdout, stderr []byte, err error)
}

// execRunner runs side calls as their own processes. A side call is never
// killed half-way by an interrupt: it runs in a process group of its own
// (not the terminal's foreground group, so Ctrl-C does not reach it) and
// ignores ctx's cancellation; only its own timeout ends it.
type execRunner struct{ timeout time.Duration }

func (e execRunner) Run(ctx context.Context, c tfCall) ([]byte, []byte, error) {
	ctx = context.WithoutCancel(ctx)
	if e.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	cmd.Dir, cmd.Env = c.Dir, c.Env
	cmd.SysProcAttr = ownProcessGroup()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.Bytes(), errb.Bytes(), fmt.Errorf("%s: %w", c, err)
	}
	return out.Bytes(), errb.Bytes(), nil
}
