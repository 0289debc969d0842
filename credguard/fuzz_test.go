package credguard

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
)

// FuzzParseCache: whatever a cache file holds, parsing never panics, and a
// parsed token survives our rewrite with its known fields intact.
func FuzzParseCache(f *testing.F) {
	f.Add([]byte(`{"startUrl":"https://x/start","region":"us-east-1","accessToken":"a","expiresAt":"2026-01-02T15:04:05Z","refreshToken":"r","clientId":"c","clientSecret":"s","registrationExpiresAt":"2026-03-02T15:04:05Z","extra":{"k":[1,2]}}`))
	f.Add([]byte(`{"accessToken":"a","expiresAt":"2026-01-02T15:04:05.123Z"}`))
	f.Add([]byte(`{"accessToken":1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := parseCache(b)
		if err != nil {
			return
		}
		out, err := tok.encode()
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		again, err := parseCache(out)
		if err != nil {
			t.Fatalf("reparse of our own output: %v\n%s", err, out)
		}
		if again.AccessToken != tok.AccessToken || !again.ExpiresAt.Equal(tok.ExpiresAt.Truncate(time.Second)) ||
			again.RefreshToken != tok.RefreshToken || again.ClientID != tok.ClientID || again.ClientSecret != tok.ClientSecret {
			t.Fatalf("rewrite changed known fields")
		}
		if len(again.raw) < len(tok.raw) {
			t.Fatalf("rewrite dropped fields")
		}
	})
}

func FuzzJWTExpiry(f *testing.F) {
	f.Add(jwt(time.Unix(1700000000, 0)))
	f.Add("a.b.c")
	f.Add("e30.e30.")
	f.Fuzz(func(t *testing.T, s string) {
		if exp, ok := jwtExpiry(s); ok && exp.Unix() <= 0 {
			t.Fatalf("accepted a non-positive exp")
		}
	})
}

// terraform-json parses the plan; PlanResourceTypes must take whatever it
// accepts (nil entries, missing changes).
func FuzzPlanResourceTypes(f *testing.F) {
	f.Add([]byte(`{"format_version":"1.2","resource_changes":[{"type":"aws_eks_cluster","change":{"actions":["create"]}}]}`))
	f.Add([]byte(`{"format_version":"1.2","resource_changes":[null,{"type":"x"}]}`))
	f.Add([]byte(`{"format_version":"1.2","resource_changes":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var plan tfjson.Plan
		if json.Unmarshal(b, &plan) == nil {
			slowMargin(PlanResourceTypes(&plan))
		}
	})
}

// FuzzRewriteTokenFiles: whatever a config file holds, tf's copy of it
// differs only in web_identity_token_file lines of profiles, each pointed
// at tf's copy of the file it named; every other line is unchanged.
func FuzzRewriteTokenFiles(f *testing.F) {
	f.Add([]byte("[profile gh]\nrole_arn = arn:aws:iam::1:role/GH\nweb_identity_token_file = /job/token\n\n[profile deploy]\nsource_profile = gh\n"))
	f.Add([]byte("[default]\r\n  web_identity_token_file=/job/token\r\n[sso-session x]\nweb_identity_token_file = /job/token\n"))
	f.Add([]byte("web_identity_token_file = /job/token\n[profile]\nweb_identity_token_file = /job/token"))
	copies := map[string]string{"/job/token": "/tmp/tf-copy/token-1"}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, changed := rewriteTokenFiles(b, copies, func(p string) string { return p })
		in, got := strings.Split(string(b), "\n"), strings.Split(string(out), "\n")
		if len(in) != len(got) {
			t.Fatalf("line count %d -> %d", len(in), len(got))
		}
		n := 0
		for i := range in {
			if in[i] == got[i] {
				continue
			}
			n++
			k, v, ok := strings.Cut(strings.TrimSpace(in[i]), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(k), "web_identity_token_file") || strings.TrimSpace(v) != "/job/token" ||
				!strings.HasSuffix(strings.TrimRight(got[i], "\r"), "web_identity_token_file = /tmp/tf-copy/token-1") {
				t.Fatalf("line %d changed: %q -> %q", i, in[i], got[i])
			}
		}
		if changed != (n > 0) {
			t.Fatalf("changed %v, %d lines differ", changed, n)
		}
		for _, p := range profileTokenFiles(out) {
			if p.path == "/job/token" {
				t.Fatalf("profile %s still names the job's file", p.profile)
			}
		}
	})
}

// FuzzReadClaims: reading a token's claims never panics, whatever the file
// holds, and only GitHub's issuer counts as GitHub's.
func FuzzReadClaims(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL3Rva2VuLmFjdGlvbnMuZ2l0aHVidXNlcmNvbnRlbnQuY29tIiwiYXVkIjpbInN0cy5hbWF6b25hd3MuY29tIl0sImV4cCI6MTcwMDAwMDAwMH0.c2ln")
	f.Add("a.b.c")
	f.Add("..")
	f.Fuzz(func(t *testing.T, tok string) {
		c, ok := readClaims(tok)
		if !ok {
			return
		}
		if c.fromGitHub() && !strings.HasPrefix(c.Iss, GitHubIssuer) {
			t.Fatalf("issuer %q taken as GitHub's", c.Iss)
		}
	})
}
