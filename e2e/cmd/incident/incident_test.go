package main

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/tfguard/tf/e2e/rig"
)

func TestSetEnvReplaces(t *testing.T) {
	env := []string{"A=1", "AWS_ACCESS_KEY_ID=old", "B=2"}
	got := setEnv(env, "AWS_ACCESS_KEY_ID", "new")
	want := []string{"A=1", "B=2", "AWS_ACCESS_KEY_ID=new"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if env[1] != "AWS_ACCESS_KEY_ID=old" {
		t.Fatal("setEnv modified its input")
	}
}

func TestChildEnvStartsFromScratch(t *testing.T) {
	t.Setenv("AWS_PROFILE", "developer-admin")
	t.Setenv("TF_WORKSPACE", "prod")
	env := childEnv("/bin", "/tmp/x", &rig.Workspace{})
	for _, kv := range env {
		for _, leaky := range rig.LeakyEnv() {
			if strings.HasPrefix(kv, leaky+"=") {
				t.Errorf("developer variable leaked into the child: %s", kv)
			}
		}
	}
	if !slices.Contains(env, "PATH=/bin") {
		t.Errorf("PATH missing: %v", env)
	}
}

func TestTerraformCmdIsBuiltNotRun(t *testing.T) {
	dir := t.TempDir()
	cmd := terraformCmd(context.Background(), dir, []string{"PATH=/nonexistent"}, "plan", "-no-color")
	if got := strings.Join(cmd.Args, " "); got != "terraform plan -no-color" {
		t.Errorf("argv = %q", got)
	}
	if cmd.Dir != dir || cmd.Process != nil {
		t.Errorf("dir %q, process %v", cmd.Dir, cmd.Process)
	}
	for _, kv := range cmd.Env {
		if strings.HasPrefix(kv, "TF_IN_AUTOMATION=") {
			t.Errorf("the user's command must not get TF_IN_AUTOMATION")
		}
	}
}
