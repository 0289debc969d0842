package tfout

import (
	"testing"
	"time"
)

func TestReadLiveLine(t *testing.T) {
	cases := []struct {
		line string
		want LiveLine
		ok   bool
	}{
		{"terraform_data.long: Creating...\n", LiveLine{Change: Change{"terraform_data.long", "create"}, Started: true}, true},
		{"module.db.aws_db_instance.main[0]: Creation complete after 12m3s [id=db-1]\n", LiveLine{Change: Change{"module.db.aws_db_instance.main[0]", "create"}, Took: 12*time.Minute + 3*time.Second}, true},
		{"\x1b[0m\x1b[1maws_s3_bucket.b: Destruction complete after 0s\x1b[0m\n", LiveLine{Change: Change{"aws_s3_bucket.b", "destroy"}}, true},
		{"aws_instance.a: Modifications complete after 1h2m3s [id=i-1]\r\n", LiveLine{Change: Change{"aws_instance.a", "update"}, Took: time.Hour + 2*time.Minute + 3*time.Second}, true},
		{"aws_instance.a: Modifying... [id=i-1]\n", LiveLine{Change: Change{"aws_instance.a", "update"}, Started: true}, true},
		{"aws_instance.a: Still creating... [10s elapsed]\n", LiveLine{}, false},
		{"  # aws_instance.a will be created\n", LiveLine{}, false},
		{"terraform_data.long (local-exec): Creating...\n", LiveLine{}, false},
		{"│ aws_instance.a: Creating...\n", LiveLine{}, false},
		{"Plan: 1 to add, 0 to change, 0 to destroy.\n", LiveLine{}, false},
	}
	for _, c := range cases {
		got, ok := ReadLiveLine([]byte(c.line))
		if ok != c.ok || got != c.want {
			t.Errorf("ReadLiveLine(%q) = %+v, %v; want %+v, %v", c.line, got, ok, c.want, c.ok)
		}
	}
}

func TestResourceType(t *testing.T) {
	cases := map[string]string{
		"aws_db_instance.main":                          "aws_db_instance",
		"module.db.aws_db_instance.main[0]":             "aws_db_instance",
		`module.a["x.y"].module.b[1].aws_eks_cluster.c`: "aws_eks_cluster",
		"data.aws_iam_policy.p":                         "",
		"module.a.data.aws_iam_policy.p":                "",
		"module.broken":                                 "",
		`terraform_data.long["k"]`:                      "terraform_data",
	}
	for in, want := range cases {
		if got := ResourceType(in); got != want {
			t.Errorf("ResourceType(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzReadLiveLine(f *testing.F) {
	f.Add([]byte("module.a.b.c: Creation complete after 3s [id=x]\n"))
	f.Add([]byte("x.y: Creating...\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, ok := ReadLiveLine(b)
		if ok && l.Change.Address == "" {
			t.Fatalf("a live line without an address: %q", b)
		}
		_ = ResourceType(string(b))
	})
}
