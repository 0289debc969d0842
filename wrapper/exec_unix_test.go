//go:build unix

package wrapper

import (
	"reflect"
	"testing"
)

func TestExecCommand(t *testing.T) {
	inv := &Invocation{
		Args:      []string{"-chdir=x", "version", "-json"},
		Terraform: Terraform{Path: "/usr/bin/terraform"},
		Env:       []string{"A=1", "TFGUARD_CHAIN=/tf"},
	}
	path, argv, env := execCommand(inv)
	if path != "/usr/bin/terraform" || !reflect.DeepEqual(argv, []string{"/usr/bin/terraform", "-chdir=x", "version", "-json"}) || !reflect.DeepEqual(env, inv.Env) {
		t.Fatalf("got %q %q %q", path, argv, env)
	}
}
