package recovery

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The snapshots pin what recovery does in every scenario the in-memory
// world builds, so that recovery's code can be rearranged without changing
// its behaviour: the text it printed, the files it left (report.json, the
// journal, PENDING, backups), the ordered calls it made to terraform and to
// the backend, and the backend it left. `go test ./recovery/ -update`
// rewrites them; a changed snapshot must come with the defect it fixes.
var updateSnapshots = flag.Bool("update", false, "rewrite recovery/testdata/snapshots from this run")

// newWorld is the in-memory backend of one test; when the test passes, what
// happened in it is compared with its snapshot.
func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{out: &bytes.Buffer{}}
	// Every t.TempDir of a test shares one parent; taking one here also
	// registers their removal before the snapshot's cleanup, so the snapshot
	// runs first.
	root := filepath.Dir(t.TempDir())
	name := strings.NewReplacer("/", "__", " ", "_").Replace(t.Name())
	worldsMu.Lock()
	worlds[t] = append(worlds[t], w)
	if n := len(worlds[t]); n > 1 {
		name += fmt.Sprintf(".world%d", n) // a test with several worlds
	}
	worldsMu.Unlock()
	t.Cleanup(func() {
		worldsMu.Lock()
		all := worlds[t]
		worldsMu.Unlock()
		if !t.Failed() {
			checkSnapshot(t, name, root, w, all)
		}
	})
	return w
}

var (
	worldsMu sync.Mutex
	worlds   = map[*testing.T][]*world{} // the worlds of each test, in order
)

// checkSnapshot compares what happened on w with its snapshot. The files
// are those of the whole test (all its worlds share one temporary parent),
// so the lock IDs tf took on any of them are numbered.
func checkSnapshot(t *testing.T, name, root string, w *world, all []*world) {
	t.Helper()
	got := renderSnapshot(t, root, w)
	n := 0
	for _, o := range all {
		for _, id := range o.taken {
			n++
			got = strings.ReplaceAll(got, id, fmt.Sprintf("$TAKEN%d", n))
		}
	}
	got = normaliseSnapshot(root, got)
	path := filepath.Join("testdata", "snapshots", name+".txt")
	if *updateSnapshots {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no snapshot %s (run go test ./recovery/ -update to write it): %v", path, err)
	}
	if string(want) != got {
		t.Errorf("snapshot %s differs (go test ./recovery/ -run '%s' -update rewrites it):\n%s", path, t.Name(), lineDiff(string(want), got))
	}
}

func renderSnapshot(t *testing.T, root string, w *world) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	b.WriteString("== printed ==\n")
	b.WriteString(w.out.String())
	b.WriteString("\n== calls (terraform and backend, in order) ==\n")
	for _, c := range w.log {
		b.WriteString(c + "\n")
	}
	b.WriteString("\n== backend left ==\n")
	fmt.Fprintf(&b, "state: %s\n", w.state)
	for _, l := range []struct {
		kind string
		lock *Lock
	}{{"dynamodb", w.ddb}, {"lockfile", w.lockfile}} {
		if l.lock != nil {
			fmt.Fprintf(&b, "%s lock: %s (%s)\n", l.kind, l.lock.Info.ID, l.lock.Info.Who)
		}
	}
	b.WriteString("\n== files left ==\n")
	var files []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	for _, p := range files {
		b.WriteString(p + "\n")
	}
	for _, p := range files {
		base := filepath.Base(p)
		if base != journalName && base != reportName && base != pendingName {
			continue
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "\n== %s ==\n%s\n", p, raw)
	}
	return b.String()
}

type snapshotNorm struct {
	recoveryDir, tmpFile, lockVersion, pid, procStart, humanTime, rfc3339 *regexp.Regexp
}

var snapshotRes = sync.OnceValue(func() snapshotNorm {
	return snapshotNorm{
		recoveryDir: regexp.MustCompile(`\d{8}T\d{6}\.\d{9}Z`),
		tmpFile:     regexp.MustCompile(`(/\.[^/ ]+)\.\d+\.tmp\b`),
		lockVersion: regexp.MustCompile(`sha256:[0-9a-f]{16}\b`),
		pid:         regexp.MustCompile(`\bPID \d+`),
		procStart:   regexp.MustCompile(`start time \d+`),
		humanTime:   regexp.MustCompile(`\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC`),
		rfc3339:     regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})`),
	}
})

// normaliseSnapshot replaces what differs from run to run: the temporary
// directory, recovery directory names (numbered by first appearance),
// times, temporary file names, lock record versions (digests of records
// that hold times), process IDs and start times, the boot ID,
// and the user and host terraform records as Who. (Lock IDs tf generates are numbered by checkSnapshot.)
func normaliseSnapshot(root, s string) string {
	s = strings.ReplaceAll(s, root, "$TMP")
	s = strings.ReplaceAll(s, whoAmI(), "$WHO")
	if host, err := os.Hostname(); err == nil && host != "" {
		s = strings.ReplaceAll(s, host, "$HOST")
	}
	seen := map[string]string{}
	s = snapshotRes().recoveryDir.ReplaceAllStringFunc(s, func(m string) string {
		if _, ok := seen[m]; !ok {
			seen[m] = fmt.Sprintf("$RECOVERY%d", len(seen)+1)
		}
		return seen[m]
	})
	s = snapshotRes().rfc3339.ReplaceAllString(s, "$$TIME")
	s = snapshotRes().tmpFile.ReplaceAllString(s, "$1.$$N.tmp")
	s = snapshotRes().lockVersion.ReplaceAllString(s, "sha256:$$LOCKVERSION")
	s = snapshotRes().humanTime.ReplaceAllString(s, "$$TIME")
	s = snapshotRes().pid.ReplaceAllString(s, "PID $$PID")
	s = snapshotRes().procStart.ReplaceAllString(s, "start time $$START")
	if boot := BootID(); boot != "" {
		s = strings.ReplaceAll(s, boot, "$BOOT")
	}
	return s
}

// lineDiff shows the first lines where want and got part.
func lineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			fmt.Fprintf(&b, "line %d\n  want %q\n   got %q\n", i+1, w, g)
			if shown++; shown == 10 {
				break
			}
		}
	}
	return b.String()
}
