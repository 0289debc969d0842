package recovery

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tfguard/tf/tfargs"
	"github.com/tfguard/tf/tfout"
)

func TestJudgeOwner(t *testing.T) {
	rec := OwnerRecord{Host: "h1", BootID: "b1", PidNS: "n1", TfPID: 10, TfStart: 100, TerraformPID: 11, TerraformStart: 101}
	gone := ProcSeen{}
	run := func(s uint64) ProcSeen { return ProcSeen{Running: true, Start: s} }
	cases := []struct {
		name string
		rec  OwnerRecord
		here Here
		want string
	}{
		{"both gone", rec, Here{"h1", "b1", "n1", map[int]ProcSeen{10: gone, 11: gone}}, OwnerDead},
		{"both reused", rec, Here{"h1", "b1", "n1", map[int]ProcSeen{10: run(500), 11: run(501)}}, OwnerDead},
		{"tf alive", rec, Here{"h1", "b1", "n1", map[int]ProcSeen{10: run(100), 11: gone}}, OwnerAlive},
		{"terraform outlived tf", rec, Here{"h1", "b1", "n1", map[int]ProcSeen{10: gone, 11: run(101)}}, OwnerAlive},
		{"cannot read proc", rec, Here{"h1", "b1", "n1", map[int]ProcSeen{10: gone, 11: {Err: errors.New("EACCES")}}}, OwnerUnknown},
		{"pid not observed", rec, Here{"h1", "b1", "n1", map[int]ProcSeen{10: gone}}, OwnerUnknown},
		{"terraform pid never recorded", OwnerRecord{Host: "h1", BootID: "b1", PidNS: "n1", TfPID: 10, TfStart: 100}, Here{"h1", "b1", "n1", map[int]ProcSeen{10: gone}}, OwnerUnknown},
		{"start not recorded, pid running", OwnerRecord{Host: "h1", BootID: "b1", PidNS: "n1", TfPID: 10, TerraformPID: 11, TerraformStart: 101}, Here{"h1", "b1", "n1", map[int]ProcSeen{10: run(7), 11: gone}}, OwnerUnknown},
		{"start not recorded, pid gone", OwnerRecord{Host: "h1", BootID: "b1", PidNS: "n1", TfPID: 10, TerraformPID: 11, TerraformStart: 101}, Here{"h1", "b1", "n1", map[int]ProcSeen{10: gone, 11: gone}}, OwnerDead},
		{"other PID namespace (container)", rec, Here{"h1", "b1", "n2", map[int]ProcSeen{10: gone, 11: gone}}, OwnerElsewhere},
		{"PID namespace unknown here", rec, Here{"h1", "b1", "", map[int]ProcSeen{10: gone, 11: gone}}, OwnerUnknown},
		{"other boot", rec, Here{"h1", "b2", "n1", map[int]ProcSeen{10: gone, 11: gone}}, OwnerElsewhere},
		{"other host", rec, Here{"h2", "b1", "n1", map[int]ProcSeen{10: gone, 11: gone}}, OwnerElsewhere},
		{"no boot id here", rec, Here{"h1", "", "n1", map[int]ProcSeen{10: gone, 11: gone}}, OwnerUnknown},
		{"no boot id recorded", OwnerRecord{Host: "h1", TfPID: 10, TfStart: 100, TerraformPID: 11, TerraformStart: 101}, Here{"h1", "b1", "n1", map[int]ProcSeen{10: gone, 11: gone}}, OwnerUnknown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := JudgeOwner(c.rec, c.here)
			if v.State != c.want {
				t.Fatalf("got %s, want %s; evidence %q", v.State, c.want, v.Evidence)
			}
			if len(v.Evidence) == 0 {
				t.Fatal("no evidence given")
			}
		})
	}
}

func TestProcStartSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux's")
	}
	s, ok, err := ProcStart(os.Getpid())
	if err != nil || !ok || s == 0 {
		t.Fatalf("ProcStart(self) = %d, %v, %v", s, ok, err)
	}
	if _, ok, err := ProcStart(1 << 30); ok || err != nil {
		t.Fatalf("a PID that cannot exist: ok %v err %v", ok, err)
	}
	if BootID() == "" || PidNamespace() == "" {
		t.Fatal("no boot ID or PID namespace read")
	}
}

func TestOwnerProgressCut(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "owner-1.json")
	prog, err := os.Create(filepath.Join(dir, "owner-1.progress"))
	if err != nil {
		t.Fatal(err)
	}
	o := &OwnerWriter{prog: prog}
	out := "terraform_data.a: Creating...\nterraform_data.b: Destroying... [id=x]\nterraform_data.a: Creation complete after 1s [id=y]\n" +
		"terraform_data.b: Destruction complete after 0s\n  # terraform_data.z: Creating...\nterraform_data.c: Creat"
	// split across writes, as a relay delivers it
	o.Write([]byte(out[:30]))
	o.Write([]byte(out[30:]))
	o.Write([]byte("ing...\nterraform_data.d: Modifying... [id=1]\n"))
	prog.Close()
	got := OwnerRecord{path: path}.CutChanges()
	want := []tfout.Change{{Address: "terraform_data.c", Action: "create"}, {Address: "terraform_data.d", Action: "update"}}
	if !slices.Equal(got, want) {
		t.Fatalf("cut = %v, want %v", got, want)
	}
}

func TestLockWaits(t *testing.T) {
	for args, want := range map[string]bool{"apply": false, "apply -lock-timeout=0s": false, "apply -lock-timeout=5m": true, "apply --lock-timeout=30s": true} {
		if got := tfargs.Parse(splitWords(args)).LockWaits(); got != want {
			t.Errorf("%s: %v, want %v", args, got, want)
		}
	}
}

func splitWords(s string) []string { return strings.Fields(s) }

func TestLockTakenOnlyFromThisRun(t *testing.T) {
	start := time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC)
	sight := func(id string, created time.Time) Sighting {
		return Sighting{Lock: Lock{Info: tfout.LockInfo{ID: id, Created: created.Format(time.RFC3339Nano)}}}
	}
	after, before := start.Add(2*time.Second), start.Add(-time.Minute)
	cases := []struct {
		name  string
		locks map[string]*KindWatch
		want  string
	}{
		{"nothing seen yet", map[string]*KindWatch{"dynamodb": {}}, ""},
		{"taken after the start", map[string]*KindWatch{"dynamodb": {Sightings: []Sighting{sight("A", after)}}}, "A"},
		{"first sighting counts", map[string]*KindWatch{"dynamodb": {Sightings: []Sighting{sight("A", after), sight("B", after)}}}, "A"},
		{"a lock older than the run", map[string]*KindWatch{"dynamodb": {Sightings: []Sighting{sight("O", before), sight("A", after)}}}, ""},
		{"both kinds agree", map[string]*KindWatch{"dynamodb": {Sightings: []Sighting{sight("A", after)}}, "lockfile": {Sightings: []Sighting{sight("A", after)}}}, "A"},
		{"kinds disagree", map[string]*KindWatch{"dynamodb": {Sightings: []Sighting{sight("A", after)}}, "lockfile": {Sightings: []Sighting{sight("B", after)}}}, ""},
	}
	for _, c := range cases {
		w := &Watch{obs: Observation{Locks: c.locks}}
		if got := w.lockTaken(start); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	var nilWatch *Watch
	if nilWatch.lockTaken(start) != "" {
		t.Error("nil watch")
	}
}

func TestOwnerCI(t *testing.T) {
	cases := []struct {
		env                []string
		prov, run, attempt string
	}{
		{[]string{"GITHUB_RUN_ID=42", "GITHUB_RUN_ATTEMPT=2", "CI=true"}, "github-actions", "42", "2"},
		{[]string{"CI_JOB_ID=777", "CI=true"}, "gitlab", "777", ""},
		{[]string{"CI=true"}, "", "", ""},
	}
	for _, c := range cases {
		p, r, a := ciOf(c.env)
		if p != c.prov || r != c.run || a != c.attempt {
			t.Errorf("%v: %q %q %q", c.env, p, r, a)
		}
	}
}
