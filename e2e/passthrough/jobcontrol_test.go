package passthrough

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// procStat returns pid's state ("T": stopped) and session from /proc.
func procStat(pid int) (state string, session int) {
	data, err := os.ReadFile(filepath.Join("/proc", itoa(pid), "stat"))
	if err != nil {
		return "", 0
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", 0
	}
	f := strings.Fields(s[i+1:]) // state ppid pgrp session ...
	if len(f) < 4 {
		return "", 0
	}
	session, _ = strconv.Atoi(f[3])
	return f[0], session
}

func procState(pid int) string {
	st, _ := procStat(pid)
	return st
}

func itoa(n int) string { return strconv.Itoa(n) }

// Ctrl-Z in an interactive shell stops the job (tf and terraform), `fg`
// resumes it, and the apply completes without any interrupt. Also when tf is
// not the job's leader (a script running tf, like make would).
func TestCtrlZAndFg(t *testing.T) {
	if _, err := os.Stat("/bin/bash"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("bash is required in CI")
		}
		t.Skip("no /bin/bash")
	}
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("/proc is required in CI (Linux)")
		}
		t.Skip("no /proc")
	}
	for _, c := range []struct{ name, line string }{
		{"typed", "terraform apply -auto-approve"},
		{"inside a script", "sh -c 'terraform apply -auto-approve; exit $?'"},
	} {
		t.Run(c.name, func(t *testing.T) { ctrlZAndFg(t, c.line) })
	}
}

func ctrlZAndFg(t *testing.T, line string) {
	dir := workdir(t, "short")
	env := tfEnv("PS1=$ ", "TERM=dumb")
	sh := startPTY(t, dir, env, &pty.Winsize{Rows: 40, Cols: 120}, "/bin/bash", "--norc", "--noprofile", "-i")
	sh.out.waitFor(t, "$ ", 20*time.Second)
	type_ := func(s string) {
		if _, err := sh.master.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	type_(line + "\n")
	sh.out.waitFor(t, `Executing: ["/bin/sh" "-c" "sleep 3"]`, time.Minute)
	type_("\x1a")
	sh.out.waitFor(t, "Stopped", 20*time.Second)
	time.Sleep(4 * time.Second) // longer than the sleep: it must be stopped too
	if strings.Contains(sh.out.String(), "Creation complete") {
		t.Fatalf("the apply went on while stopped:\n%s", sh.out.String())
	}
	var states []string
	for _, pid := range pgrepExact(t, sh.cmd.Process.Pid, "apply -auto-approve") {
		states = append(states, procState(pid))
	}
	if len(states) != 2 || states[0] != "T" || states[1] != "T" {
		t.Errorf("tf and terraform states %q, want both stopped (T)", states)
	}
	type_("fg\n")
	sh.out.waitFor(t, "Apply complete!", time.Minute)
	type_("echo \"exit=$?\"\n")
	sh.out.waitFor(t, "exit=0", 20*time.Second)
	type_("exit\n")
	_, out := sh.wait(t, 30*time.Second)
	for _, bad := range []string{"Interrupt received", "Error"} {
		if strings.Contains(out, bad) {
			t.Errorf("unexpected %q:\n%s", bad, out)
		}
	}
}

// pgrepExact lists the pids in session whose command line is terraform ARGS
// (tf runs as "terraform ARGS", the real terraform as "/path/terraform ARGS").
func pgrepExact(t *testing.T, session int, args string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid := 0
		for _, c := range e.Name() {
			if c < '0' || c > '9' {
				pid = -1
				break
			}
			pid = pid*10 + int(c-'0')
		}
		if _, sid := procStat(pid); pid <= 0 || sid != session {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cmdline := strings.ReplaceAll(strings.TrimRight(string(data), "\x00"), "\x00", " ")
		if strings.HasSuffix(cmdline, "terraform "+args) && strings.HasPrefix(filepath.Base(strings.Fields(cmdline)[0]), "terraform") {
			pids = append(pids, pid)
		}
	}
	return pids
}
