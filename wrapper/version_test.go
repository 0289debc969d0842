package wrapper

import (
	"runtime/debug"
	"testing"
)

func TestVersionOf(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	rev := "4bdb101c0ffee0123456789abcdef0123456789a"
	cases := []struct {
		name    string
		stamped string
		bi      *debug.BuildInfo
		want    string
	}{
		{"go install module@version", "dev", &debug.BuildInfo{Main: debug.Module{Path: "github.com/tfguard/tf", Version: "v1.4.2"}}, "v1.4.2"},
		{"go install module@pseudo-version", "dev", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261126131500-4bdb101c0ffe"}}, "v0.0.0-20261126131500-4bdb101c0ffe"},
		{"release stamp wins", "1.5.0", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.2"}}, "1.5.0"},
		{"clone, no vcs", "dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev"},
		{"clone with vcs", "dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "false")}, "dev-4bdb101c0ffe"},
		{"clone with changes", "dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "true")}, "dev-4bdb101c0ffe-modified"},
		{"no build info", "", nil, "dev"},
	}
	for _, c := range cases {
		if got := VersionOf(c.stamped, c.bi); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
