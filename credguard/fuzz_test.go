package credguard

import (
	"encoding/json"
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
