package credguard

import (
	"testing"
	"time"
)

func TestRenewalEndIsTheFirstCredentialNobodyCanRenew(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	envKeys := Entry{Credential: Credential{Name: "env keys", Kind: KindEnvSession, Expires: true, ValidUntil: t0.Add(50 * time.Minute)}}
	envNoExpiry := Entry{Credential: Credential{Name: "env keys", Kind: KindEnvSession}}
	legacy := Entry{Credential: Credential{Name: "profile legacy", Kind: KindLegacySSO, Expires: true, ValidUntil: t0.Add(40 * time.Minute)}}
	ssoKnown := Entry{Credential: Credential{Name: "profile sso", Kind: KindSSOSession, Expires: true, Refreshable: true,
		ValidUntil: t0.Add(time.Hour), SessionEnds: t0.Add(30 * time.Minute)}}
	ssoUnknown := Entry{Credential: Credential{Name: "profile sso", Kind: KindSSOSession, Expires: true, Refreshable: true, ValidUntil: t0.Add(10 * time.Minute)}}
	ssoNoRefresh := Entry{Credential: Credential{Name: "profile sso", Kind: KindSSOSession, Expires: true, ValidUntil: t0.Add(20 * time.Minute)}}
	oidc := Entry{Credential: Credential{Name: "GitHub OIDC endpoint (tf)", Kind: KindGitHubOIDC, Refreshable: true}}
	roleOverEnv := Entry{Credential: Credential{Name: "profile deploy", Kind: KindAssumeRole, Source: &envKeys.Credential}}
	roleOverSSO := Entry{Credential: Credential{Name: "profile deploy", Kind: KindAssumeRole, Source: &ssoUnknown.Credential}}
	static := Entry{Credential: Credential{Name: "profile static", Kind: KindStatic}}
	web := Entry{Credential: Credential{Name: "web identity", Kind: KindWebIdentity, Expires: true, ValidUntil: t0.Add(5 * time.Minute)}}

	cases := []struct {
		name    string
		entries []Entry
		want    time.Duration // from t0; -1: none
		who     string
	}{
		{"exported keys with an expiry", []Entry{envKeys}, 50 * time.Minute, "env keys"},
		{"exported keys without one: unknown, no end", []Entry{envNoExpiry}, -1, ""},
		{"legacy SSO token", []Entry{legacy}, 40 * time.Minute, "profile legacy"},
		{"SSO session whose end tf recorded", []Entry{ssoKnown}, 30 * time.Minute, "profile sso"},
		{"SSO session of unknown end: renewed", []Entry{ssoUnknown}, -1, ""},
		{"SSO token with no refresh token", []Entry{ssoNoRefresh}, 20 * time.Minute, "profile sso"},
		{"GitHub OIDC mode", []Entry{oidc}, -1, ""},
		{"role over exported keys", []Entry{roleOverEnv}, 50 * time.Minute, "profile deploy"},
		{"role over a renewed SSO session", []Entry{roleOverSSO}, -1, ""},
		{"static keys and web identity", []Entry{static, web}, -1, ""},
		{"the earliest wins", []Entry{envKeys, static, ssoKnown, legacy}, 30 * time.Minute, "profile sso"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			end, who, ok := Report{Entries: c.entries}.RenewalEnd()
			if c.want < 0 {
				if ok {
					t.Fatalf("RenewalEnd = %s (%s), want none", end, who)
				}
				return
			}
			if !ok || !end.Equal(t0.Add(c.want)) || who != c.who {
				t.Fatalf("RenewalEnd = %s, %q, %v; want %s, %q", end, who, ok, t0.Add(c.want), c.who)
			}
		})
	}
}

func TestOperationTimesLearnedThenTableThenGuess(t *testing.T) {
	o := Options{StateDir: t.TempDir(), Dir: t.TempDir()}
	ot := LoadOperationTimes(o)
	if d, src := ot.Expect("aws_db_instance"); d != 40*time.Minute || src != OpTimeTable {
		t.Errorf("table type before learning: %s %s", d, src)
	}
	if d, src := ot.Expect("terraform_data"); d != DefaultOperationTime || src != OpTimeGuess {
		t.Errorf("unknown type: %s %s", d, src)
	}
	if err := RecordOperationTimes(o, map[string][]time.Duration{"aws_db_instance": {8 * time.Minute, 12 * time.Minute}, "terraform_data": {2 * time.Second}}); err != nil {
		t.Fatal(err)
	}
	if err := RecordOperationTimes(o, map[string][]time.Duration{"aws_db_instance": {4 * time.Minute}}); err != nil {
		t.Fatal(err)
	}
	ot = LoadOperationTimes(o)
	if d, src := ot.Expect("aws_db_instance"); d != 15*time.Minute || src != OpTimeLearned {
		t.Errorf("learned: %s %s, want 1.25 x the longest (12m) = 15m", d, src)
	}
	if d, src := ot.Expect("terraform_data"); d != 2500*time.Millisecond || src != OpTimeLearned {
		t.Errorf("learned terraform_data: %s %s", d, src)
	}
	// Another workspace directory learns on its own.
	other := Options{StateDir: o.StateDir, Dir: t.TempDir()}
	if _, src := LoadOperationTimes(other).Expect("terraform_data"); src != OpTimeGuess {
		t.Errorf("another directory saw this one's times: %s", src)
	}
	// Only the last keepOperationTimes are kept.
	var many []time.Duration
	many = append(many, time.Hour)
	for i := 0; i < keepOperationTimes; i++ {
		many = append(many, time.Minute)
	}
	if err := RecordOperationTimes(o, map[string][]time.Duration{"aws_mq_broker": many}); err != nil {
		t.Fatal(err)
	}
	if d, _ := LoadOperationTimes(o).Expect("aws_mq_broker"); d != time.Minute+15*time.Second {
		t.Errorf("old times not forgotten: %s", d)
	}
}
