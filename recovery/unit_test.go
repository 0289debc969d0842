package recovery

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tfguard/tf/tfargs"
)

func TestSideCallsAreBuiltSafely(t *testing.T) {
	env := []string{"PATH=/bin", "TF_WORKSPACE=blue", "TF_CLI_ARGS=-lock=true", "TF_CLI_ARGS_state_push=-force", "TF_INPUT=1", "AWS_PROFILE=p"}
	push := buildPush("/tf", "/w", env, "/w/b/errored.tfstate", true)
	if want := []string{"state", "push", "-lock=false", "/w/b/errored.tfstate"}; !reflect.DeepEqual(push.Args, want) {
		t.Errorf("push args %v, want %v", push.Args, want)
	}
	if got := buildPush("/tf", "/w", env, "x", false).Args; !reflect.DeepEqual(got, []string{"state", "push", "x"}) {
		t.Errorf("locking push args %v", got)
	}
	for _, c := range []tfCall{push, buildPull("/tf", "/w", env), buildUnlock("/tf", "/w", env, "ID")} {
		for _, a := range c.Args {
			if a == "-force" && c.Args[0] != "force-unlock" {
				t.Errorf("%v passes -force", c.Args)
			}
		}
		joined := strings.Join(c.Env, "\n")
		for _, want := range []string{"TF_WORKSPACE=blue", "AWS_PROFILE=p", "TF_INPUT=0", "TF_IN_AUTOMATION=1"} {
			if !strings.Contains(joined, want) {
				t.Errorf("%v env lacks %s", c.Args, want)
			}
		}
		for _, bad := range []string{"TF_CLI_ARGS=", "TF_CLI_ARGS_state_push=", "TF_INPUT=1"} {
			if strings.Contains(joined, bad) {
				t.Errorf("%v env keeps %s", c.Args, bad)
			}
		}
		if c.Dir != "/w" || c.Path != "/tf" {
			t.Errorf("call %+v", c)
		}
	}
	if got := buildUnlock("/tf", "/w", env, "abc").Args; !reflect.DeepEqual(got, []string{"force-unlock", "-force", "abc"}) {
		t.Errorf("unlock args %v", got)
	}
}

func TestLoadBackend(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".terraform"), 0o700); err != nil {
		t.Fatal(err)
	}
	// The shape terraform 1.11 writes (every schema attribute, nulls kept).
	rec := `{"version":3,"terraform_version":"1.11.4","backend":{"type":"s3","config":{
	  "access_key":null,"bucket":"tf-state","dynamodb_table":"tf-locks","endpoints":{"s3":"http://127.0.0.1:9","dynamodb":null,"sts":null},
	  "key":"app/terraform.tfstate","profile":"deploy","region":"eu-west-1","use_lockfile":true,"use_path_style":true,
	  "workspace_key_prefix":null,"shared_config_files":["/h/.aws/config"]},"hash":1}}`
	for name, body := range map[string]string{"terraform.tfstate": rec, "environment": "blue\n"} {
		if err := os.WriteFile(filepath.Join(dir, ".terraform", name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b, err := LoadBackend(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.Type != "s3" || b.Bucket != "tf-state" || b.Table != "tf-locks" || !b.UseLockfile || !b.PathStyle ||
		b.Profile != "deploy" || b.Region != "eu-west-1" || b.Endpoints["s3"] != "http://127.0.0.1:9" || b.Endpoints["dynamodb"] != "" ||
		!reflect.DeepEqual(b.ConfigFiles, []string{"/h/.aws/config"}) {
		t.Errorf("backend %+v", b)
	}
	if b.StateKey() != "env:/blue/app/terraform.tfstate" || b.LockPath() != "tf-state/env:/blue/app/terraform.tfstate" {
		t.Errorf("workspace from .terraform/environment: key %s", b.StateKey())
	}
	b, _ = LoadBackend(dir, []string{"TF_WORKSPACE=green"})
	if b.StateKey() != "env:/green/app/terraform.tfstate" {
		t.Errorf("TF_WORKSPACE wins: %s", b.StateKey())
	}
	b, _ = LoadBackend(dir, []string{"TF_WORKSPACE=default"})
	if b.StateKey() != "app/terraform.tfstate" {
		t.Errorf("default workspace: %s", b.StateKey())
	}
	b, err = LoadBackend(t.TempDir(), nil)
	if err != nil || b.Type != "local" || b.IsS3() {
		t.Errorf("no record = local backend: %+v %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".terraform", "terraform.tfstate"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadBackend(dir, nil); err == nil || !strings.Contains(err.Error(), "terraform init") {
		t.Errorf("corrupt record: %v", err)
	}
}

func TestOperationFor(t *testing.T) {
	for args, want := range map[string]string{
		"apply -auto-approve": "OperationTypeApply", "-chdir=x destroy": "OperationTypeApply",
		"plan -out=p": "OperationTypePlan", "refresh": "OperationTypeRefresh", "import a b": "",
	} {
		if got := tfargs.Parse(strings.Fields(args)).LockOperation(); got != want {
			t.Errorf("%s: %q, want %q", args, got, want)
		}
	}
}

func TestRedactVars(t *testing.T) {
	in := []string{"apply", "-var", "db_password=hunter2", "-var=token=abc=def", "-var-file=x.tfvars", "-auto-approve"}
	got := strings.Join(tfargs.Redact(in), " ")
	want := "apply -var db_password=... -var=token=... -var-file=x.tfvars -auto-approve"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if in[2] != "db_password=hunter2" {
		t.Fatal("the caller's arguments were changed")
	}
}
