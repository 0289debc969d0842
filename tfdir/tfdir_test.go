package tfdir

import (
	"os"
	"path/filepath"
	"testing"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDataDirAndWorkspace(t *testing.T) {
	dir := t.TempDir()
	if got := DataDir(dir, nil); got != filepath.Join(dir, ".terraform") {
		t.Errorf("default data dir: %s", got)
	}
	env := []string{"TF_DATA_DIR=other", "TF_DATA_DIR=data"} // the last wins
	if got := DataDir(dir, env); got != filepath.Join(dir, "data") {
		t.Errorf("relative TF_DATA_DIR: %s", got)
	}
	if got := DataDir(dir, []string{"TF_DATA_DIR=/abs"}); got != "/abs" {
		t.Errorf("absolute TF_DATA_DIR: %s", got)
	}
	if got := Workspace(dir, env); got != "default" {
		t.Errorf("no selection: %s", got)
	}
	write(t, filepath.Join(dir, "data", "environment"), "blue\n")
	if got := Workspace(dir, env); got != "blue" {
		t.Errorf("recorded selection: %s", got)
	}
	if got := Workspace(dir, append(env, "TF_WORKSPACE=green")); got != "green" {
		t.Errorf("TF_WORKSPACE wins: %s", got)
	}
}

func TestReadBackend(t *testing.T) {
	dir := t.TempDir()
	if _, ok, err := ReadBackend(dir, nil); ok || err != nil {
		t.Fatalf("no record: ok %v err %v", ok, err)
	}
	write(t, filepath.Join(dir, ".terraform", "terraform.tfstate"), `{"version":3,"backend":{"type":"s3","config":{
		"bucket":"b","use_lockfile":true,"shared_config_files":["/a","/b"],"assume_role":{"role_arn":"arn:x"},"workspace_key_prefix":null}}}`)
	b, ok, err := ReadBackend(dir, nil)
	if err != nil || !ok || b.Type != "s3" {
		t.Fatalf("s3 record: %+v ok %v err %v", b, ok, err)
	}
	if b.String("bucket") != "b" || !b.Bool("use_lockfile") || b.String("workspace_key_prefix") != "" ||
		len(b.Strings("shared_config_files")) != 2 || b.Map("assume_role")["role_arn"] != "arn:x" || b.Map("absent") != nil {
		t.Errorf("settings read wrong: %+v", b.Config)
	}
	write(t, filepath.Join(dir, ".terraform", "terraform.tfstate"), `{"version":3`)
	if _, _, err := ReadBackend(dir, nil); err == nil {
		t.Error("a truncated record must be an error")
	}
}
