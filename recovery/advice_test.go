package recovery

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tfguard/tf/tfout"
)

// TestAdvise: advice for each cause, from the classifier's own reading of
// real output where the corpus has a case, otherwise from a classification
// built by hand. Each row names words the summary and the steps must hold;
// "aws sso login" appears only when the credentials really expired.
func TestAdvise(t *testing.T) {
	corpus := func(file string) tfout.Classification {
		return tfout.Classify(readTestdata(t, filepath.Join("realworld", file)))
	}
	for _, tc := range []struct {
		name    string
		c       tfout.Classification
		tool    string
		profile string
		summary []string
		steps   []string
		logIn   bool
	}{
		{"expired token", corpus("terraform-33264.txt"), "terraform", "dev",
			[]string{"credentials expired", "ExpiredToken"}, []string{"aws sso login --profile dev"}, true},
		{"expired, profile unknown", corpus("terraform-provider-aws-41016.txt"), "terraform", "",
			[]string{"credentials expired"}, []string{"fresh AWS credentials"}, true},
		{"SSO session ended", tfout.Classify(readTestdata(t, "rig_d_sso_dynamodb.nocolor.stderr")), "terraform", "dev",
			[]string{"SSO) session ended"}, []string{"aws sso login --profile dev"}, true},
		{"vanished", corpus("terraform-15688.txt"), "terraform", "",
			[]string{"disappeared", "NoCredentialProviders"}, []string{"aws sts get-caller-identity"}, true},
		{"dns", corpus("drone-terraform-95.txt"), "terraform", "",
			[]string{"did not resolve", "********.s3.eu-central-1.amazonaws.com"}, []string{"nslookup"}, false},
		{"connection reset", corpus("kubefirst-626.txt"), "terraform", "",
			[]string{"127.0.0.1 did not answer", "nothing is wrong with the credentials"}, []string{"network path to 127.0.0.1"}, false},
		{"throttled", tfout.Classification{Cause: tfout.CauseTransient, Kind: tfout.KindThrottled, From: "save"}, "terraform", "",
			[]string{"throttled"}, []string{"wait a minute"}, false},
		{"server error", tfout.Classification{Cause: tfout.CauseTransient, Kind: tfout.KindServerError, From: "save"}, "terraform", "",
			[]string{"server error"}, []string{"health.aws.amazon.com"}, false},
		{"access denied, action and principal printed", corpus("modernisation-platform-13075.txt"), "terraform", "",
			[]string{"AWS denied s3:PutObject to arn:aws:sts::883644721336:assumed-role/", "on arn:aws:s3:::modernisation-platform-terraform-state/", "will not fix it"},
			[]string{"aws sts get-caller-identity", "allow s3:PutObject on arn:aws:s3:::modernisation-platform-terraform-state/"}, false},
		{"access denied, nothing printed (KMS per its PR)", corpus("terraform-29063.txt"), "terraform", "ops",
			[]string{"AWS denied the state upload (s3:PutObject; with SSE-KMS also kms:GenerateDataKey)"},
			[]string{"aws sts get-caller-identity --profile ops"}, false},
		{"kms key", tfout.Classification{Cause: tfout.CausePermanent, Kind: tfout.KindKMS, From: "save", Detail: "kms:GenerateDataKey",
			Resource: "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}, "tofu", "",
			[]string{"KMS key refused", "kms:GenerateDataKey", "arn:aws:kms:eu-west-1:111122223333:key/1234abcd"},
			[]string{"aws kms describe-key --key-id arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", "kms:Decrypt"}, false},
		{"no such bucket", tfout.Classification{Cause: tfout.CausePermanent, Kind: tfout.KindNoSuchBucket, From: "backend", Detail: "tf-state"}, "tofu", "",
			[]string{"state bucket tf-state does not exist"}, []string{"aws s3api head-bucket --bucket tf-state", "tofu init -reconfigure"}, false},
		{"no such bucket, unnamed", corpus("terraform-up-and-running-code-115.txt"), "terraform", "",
			[]string{"state bucket does not exist"}, []string{"terraform init -reconfigure"}, false},
		{"no such table", tfout.Classification{Cause: tfout.CausePermanent, Kind: tfout.KindNoSuchTable, From: "release", Detail: "tf-locks"}, "terraform", "",
			[]string{"lock table tf-locks does not exist"}, []string{"aws dynamodb describe-table --table-name tf-locks"}, false},
		{"invalid keys", tfout.Classification{Cause: tfout.CausePermanent, Kind: tfout.KindInvalidCredentials, From: "save", NotExpiry: []string{"InvalidAccessKeyId"}}, "terraform", "",
			[]string{"InvalidAccessKeyId", "did not expire"}, []string{"replace the access keys"}, false},
		{"lineage conflict", corpus("tfm-75.txt"), "terraform", "",
			[]string{"another lineage"}, []string{"terraform state pull > remote.tfstate"}, false},
		{"clock skew", corpus("terraform-19622.txt"), "terraform", "",
			[]string{"clock is wrong", "logging in does not help"}, []string{"date -u", "timedatectl"}, false},
		{"tls certificate expired", tfout.Classification{Cause: tfout.CauseLookalike, Kind: tfout.KindTLSCertExpired, From: "backend", Detail: "s3.example.internal"}, "terraform", "",
			[]string{"TLS certificate of s3.example.internal has expired"}, []string{"date -u", "openssl s_client -connect s3.example.internal:443"}, false},
		{"sso cache file missing", corpus("terraform-32448-cache-missing.txt"), "terraform", "dev",
			[]string{"/Users/username/.aws/sso/cache/7ad....0ebf54.json does not exist", "not an expired session"},
			[]string{"aws configure list --profile dev", "sso_session"}, false},
		{"1.6.4 regression", corpus("terraform-34248.txt"), "terraform", "dev",
			[]string{"failed to read cached SSO token file", "1.6.4"}, []string{"terraform version", "1.6.3"}, false},
		{"profile not found", tfout.Classification{Cause: tfout.CauseLookalike, Kind: tfout.KindProfileNotFound, From: "backend", Detail: "prod-admin"}, "terraform", "",
			[]string{"profile prod-admin does not exist"}, []string{"aws configure list-profiles"}, false},
		{"another run's lock", corpus("terraformmagentocloud-22.txt"), "terraform", "",
			[]string{"locked by another run", "genaker@genaker"}, []string{"terraform force-unlock -force f9763602-b03f-e35c-da30-4083cdbb99ae"}, false},
		{"unknown", tfout.Classification{Cause: tfout.CauseUnknown, From: "save"}, "tofu", "",
			[]string{"tf does not recognise why", "tofu's error above"}, nil, false},
	} {
		a := Advise(tc.c, tc.tool, tc.profile)
		text := a.String()
		if a.Cause != tc.c.Cause || a.LogIn != tc.logIn {
			t.Errorf("%s: cause %s log-in %v, want %s %v", tc.name, a.Cause, a.LogIn, tc.c.Cause, tc.logIn)
		}
		for _, w := range tc.summary {
			if !strings.Contains(a.Summary, w) {
				t.Errorf("%s: summary lacks %q:\n%s", tc.name, w, a.Summary)
			}
		}
		steps := strings.Join(a.Steps, "\n")
		for _, w := range tc.steps {
			if !strings.Contains(steps, w) {
				t.Errorf("%s: steps lack %q:\n%s", tc.name, w, steps)
			}
		}
		if tc.steps == nil && len(a.Steps) != 0 {
			t.Errorf("%s: steps %q, want none", tc.name, a.Steps)
		}
		if strings.Contains(text, "aws sso login") != (tc.logIn && a.Cause == tfout.CauseExpired) {
			t.Errorf("%s: \"aws sso login\" in the advice must mean the credentials expired:\n%s", tc.name, text)
		}
		if strings.Contains(text, "AKIA") || strings.Contains(strings.ToLower(text), "secret_access_key") {
			t.Errorf("%s: advice looks like it holds a secret:\n%s", tc.name, text)
		}
	}
	if a := Advise(tfout.Classification{Cause: tfout.CauseNone}, "terraform", "dev"); a.String() != "" || a.LogIn {
		t.Errorf("no cause, but advice %q", a.String())
	}
}

// TestAdviseEveryCorpusCase: every real case gets advice that fits its
// label: none for nothing to act on, a summary for the rest, and a log-in
// only for expired credentials.
func TestAdviseEveryCorpusCase(t *testing.T) {
	for _, cc := range readCorpusIndex(t) {
		c := tfout.Classify(readTestdata(t, filepath.Join("realworld", cc.file)))
		a := Advise(c, c.Tool, "")
		switch {
		case c.Cause == tfout.CauseNone && a.Summary != "":
			t.Errorf("%s: no cause but advice %q", cc.file, a.Summary)
		case c.Cause != tfout.CauseNone && a.Summary == "":
			t.Errorf("%s: cause %s but no advice", cc.file, c.Cause)
		case a.LogIn != (cc.label == "expired"):
			t.Errorf("%s (%s): log-in %v", cc.file, cc.label, a.LogIn)
		}
	}
}
