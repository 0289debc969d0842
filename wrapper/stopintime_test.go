package wrapper

import (
	"strings"
	"testing"
	"time"

	"github.com/tfguard/tf/credguard"
	"github.com/tfguard/tf/tfout"
)

func recoveryChange(addr, action string) tfout.Change {
	return tfout.Change{Address: addr, Action: action}
}

// fakeTimes stands in for the learned operation times.
type fakeTimes map[string]time.Duration

func (f fakeTimes) Expect(typ string) (time.Duration, string) {
	if d, ok := f[typ]; ok {
		return d, credguard.OpTimeLearned
	}
	return credguard.DefaultOperationTime, credguard.OpTimeGuess
}

func TestStopMarginCoversTheLongestOperationInFlight(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	end := t0.Add(time.Hour)
	now := t0
	s := newStopInTime(Config{}, t0, end, "env keys", credguard.OperationTimes{}, false)
	s.now = func() time.Time { return now }
	s.expect = fakeTimes{"aws_db_instance": 20 * time.Minute, "aws_s3_bucket": 10 * time.Second}.Expect

	// Nothing in flight: the save allowance alone.
	now = end.Add(-stopSaveAllowance - time.Second)
	if why, due := s.due(); due {
		t.Fatalf("due with nothing in flight and more than the save allowance left: %s", why)
	}
	// A database that fits: it starts 21 minutes before the end.
	now = end.Add(-20*time.Minute - stopSaveAllowance - time.Minute)
	s.Write([]byte("aws_s3_bucket.b: Creating...\naws_db_instance.main: Creating...\n"))
	if why, due := s.due(); due {
		t.Fatalf("due although the database (20m) and the save fit: %s", why)
	}
	// The database completes: its time is learned and it no longer counts.
	now = end.Add(-5 * time.Minute)
	s.Write([]byte("aws_db_instance.main: Creation complete after 16m2s [id=db]\n"))
	if got := s.learned()["aws_db_instance"]; len(got) != 1 || got[0] != 16*time.Minute+2*time.Second {
		t.Errorf("learned %v", got)
	}
	// A second database starts when 20m and the save allowance no longer fit.
	now = end.Add(-20*time.Minute - stopSaveAllowance + time.Second)
	s.Write([]byte("aws_db_instance.other: Creating...\n"))
	why, due := s.due()
	if !due {
		t.Fatal("not due: an operation that cannot finish before the end started")
	}
	for _, w := range []string{"env keys cannot be renewed past 13:00:00 UTC", "aws_db_instance.other (create, running for 0s; expected 20m: the longest seen here x1.25)", "margin " + span(20*time.Minute+stopSaveAllowance) + ": "} {
		if !strings.Contains(why, w) {
			t.Errorf("why = %q, want %q in it", why, w)
		}
	}
	if _, again := s.due(); again {
		t.Error("due twice: tf would interrupt twice")
	}
}

func TestStopMarginForAGuessedTypeSaysSo(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	end := t0.Add(time.Hour)
	now := end.Add(-credguard.DefaultOperationTime - stopSaveAllowance - time.Second)
	s := newStopInTime(Config{}, t0, end, "profile legacy", credguard.OperationTimes{}, false)
	s.now = func() time.Time { return now }
	s.expect = fakeTimes{}.Expect
	s.Write([]byte("module.m.thing_x.y[\"a\"]: Modifying... [id=1]\n"))
	if _, due := s.due(); due {
		t.Fatal("due before the guessed time")
	}
	// The same operation, two seconds later: its guessed end plus the save passes the end.
	now = now.Add(2 * time.Second)
	s.inflight[recoveryChange("module.m.thing_x.y[\"a\"]", "update")] = now
	why, due := s.due()
	if !due || !strings.Contains(why, "a guess: no thing_x operation was seen complete here before") || !s.guess {
		t.Fatalf("due %v, why %q, guess %v", due, why, s.guess)
	}
}

func TestOverrunOperationKeepsAQuarterOfItsTime(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	end := t0.Add(time.Hour)
	now := t0
	s := newStopInTime(Config{}, t0, end, "env keys", credguard.OperationTimes{}, false)
	s.now = func() time.Time { return now }
	s.expect = fakeTimes{"aws_eks_cluster": 20 * time.Minute}.Expect
	s.Write([]byte("aws_eks_cluster.c: Creating...\n"))
	now = end.Add(-5*time.Minute - stopSaveAllowance - time.Second) // ran 54m: a quarter (5m) + the save allowance still fit
	if _, due := s.due(); due {
		t.Fatal("due too early")
	}
	now = now.Add(2 * time.Second)
	if _, due := s.due(); !due {
		t.Fatal("not due with less than a quarter of the operation's time + the save allowance left")
	}
}

// Terraform's "Interrupt received." (a Ctrl-C typed at the terminal went
// to terraform, not tf) stops tf from sending one of its own.
func TestNoOwnInterruptAfterTerraformGotOne(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	s := newStopInTime(Config{}, t0, t0.Add(time.Minute), "env keys", credguard.OperationTimes{}, false)
	s.now = func() time.Time { return t0.Add(59 * time.Second) }
	s.Write([]byte("\nInterrupt received.\nPlease wait for Terraform to exit or data loss may occur.\nGracefully shutting down...\n"))
	if why, due := s.due(); due {
		t.Fatalf("tf would send a second interrupt: %s", why)
	}
}

func TestDeadlineSetting(t *testing.T) {
	start := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Time{
		"":                          {},
		"55m":                       start.Add(55 * time.Minute),
		"2026-12-02T13:30:00Z":      start.Add(90 * time.Minute),
		"2026-12-02T14:30:00+01:00": start.Add(90 * time.Minute),
	} {
		got, err := parseDeadline(v, start)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseDeadline(%q) = %s, %v; want %s", v, got, err, want)
		}
	}
	for _, bad := range []string{"-5m", "0s", "tomorrow", "13:30"} {
		if _, err := parseDeadline(bad, start); err == nil {
			t.Errorf("parseDeadline(%q) accepted", bad)
		}
	}
	cfg, err := LoadConfig([]string{"TFGUARD_DEADLINE=soon"}, ConfigFiles{})
	if err == nil {
		t.Fatalf("TFGUARD_DEADLINE=soon accepted: %+v", cfg.Deadline)
	}
	// The earlier of deadline and credentials wins.
	s := newStopInTime(Config{Deadline: "10m", Sources: map[string]Source{"deadline": {Kind: "env", Name: "TFGUARD_DEADLINE"}}}, start, start.Add(time.Hour), "env keys", credguard.OperationTimes{}, false)
	if !s.end.Equal(start.Add(10*time.Minute)) || !strings.Contains(s.endWhy, "deadline") {
		t.Errorf("end %s (%s), want the deadline", s.end, s.endWhy)
	}
	s = newStopInTime(Config{Deadline: "2h"}, start, start.Add(time.Hour), "env keys", credguard.OperationTimes{}, false)
	if !s.end.Equal(start.Add(time.Hour)) || !strings.Contains(s.endWhy, "env keys") {
		t.Errorf("end %s (%s), want the credentials'", s.end, s.endWhy)
	}
}

// After tf stopped a run: exit 79 and the k of n only when terraform
// reported no failure to save or release; otherwise terraform's code and
// no claim that the state was saved.
func TestStoppedReport(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	fired := func() *stopInTime {
		s := newStopInTime(Config{}, t0, t0.Add(time.Minute), "env keys", credguard.OperationTimes{}, false)
		s.now = func() time.Time { return t0.Add(55 * time.Second) }
		if _, due := s.due(); !due {
			t.Fatal("not due")
		}
		return s
	}
	inv := &Invocation{Command: Command{Words: []string{"apply"}}, Config: Config{Flavor: FlavorTerraform}}
	stdout := []byte("Plan: 2 to add, 0 to change, 0 to destroy.\nterraform_data.a: Creating...\nterraform_data.a: Creation complete after 1s [id=x]\nterraform_data.b: Creating...\n")
	stderr := []byte("\nError: execution halted\n\n\nError: local-exec provisioner error\n\n  with terraform_data.b,\n  on main.tf line 3, in resource \"terraform_data\" \"b\":\n   3:   provisioner \"local-exec\" {\n\nError running command 'sleep 60': signal: killed. Output:\n")
	text, code := stoppedReport(fired(), inv, &Result{ExitCode: 1, Stdout: stdout, StderrTail: stderr}, 1)
	if code != ExitStoppedInTime {
		t.Errorf("code %d, want %d", code, ExitStoppedInTime)
	}
	for _, w := range []string{
		"tf: terraform reported 1 of the 2 planned changes complete: terraform_data.a (create).\n",
		"tf: ended with an error (an interrupted operation reports one): terraform_data.b.\n",
		"tf: terraform reported no error saving the state or releasing the lock.",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("report lacks %q:\n%s", w, text)
		}
	}

	released := append(append([]byte{}, stderr...), []byte("\nError: Error releasing the state lock\n\nError message: failed to retrieve lock info for lock ID \"8c4f6a8e-1f2b-4c3d-9e5f-0a1b2c3d4e5f\": AccessDeniedException: denied\n")...)
	text, code = stoppedReport(fired(), inv, &Result{ExitCode: 1, Stdout: stdout, StderrTail: released}, 1)
	if code != 1 || strings.Contains(text, "no error saving") || !strings.Contains(text, "failure to save the state or release the lock") {
		t.Errorf("a failed release: code %d, report:\n%s", code, text)
	}

	text, code = stoppedReport(fired(), inv, &Result{ExitCode: 0, Stdout: stdout}, 0)
	if code != 0 || !strings.Contains(text, "terraform finished anyway") {
		t.Errorf("finished anyway: code %d, report:\n%s", code, text)
	}

	notFired := newStopInTime(Config{}, t0, t0.Add(time.Hour), "env keys", credguard.OperationTimes{}, false)
	if text, code := stoppedReport(notFired, inv, &Result{ExitCode: 1}, 1); text != "" || code != 1 {
		t.Errorf("a run tf did not interrupt: code %d, report %q", code, text)
	}
}
