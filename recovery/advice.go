package recovery

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/tfguard/tf/envlist"
	"github.com/tfguard/tf/tfargs"
	"github.com/tfguard/tf/tfout"
)

// Advice is what tf tells a person about a failure's cause: what is
// actually wrong, and what to run. Logging in again is advised only when the
// credentials really expired.
type Advice struct {
	Cause tfout.Cause `json:"cause"`
	// Summary says what is wrong, in one sentence.
	Summary string `json:"summary"`
	// Steps are the commands to run, in order; a line starting with "#" is
	// an instruction rather than a command.
	Steps []string `json:"steps,omitempty"`
	// LogIn: renewing the credentials is the fix.
	LogIn bool `json:"log_in"`
}

// String is the advice as printed: the summary, then one step per line.
func (a Advice) String() string {
	if a.Summary == "" {
		return ""
	}
	var b strings.Builder
	b.WriteString(a.Summary)
	for _, s := range a.Steps {
		b.WriteString("\n    ")
		b.WriteString(s)
	}
	return b.String()
}

// Advise turns a classification into advice. tool is "terraform" or "tofu";
// profile is the AWS profile in play, when known. A classification without a
// cause gets no advice.
func Advise(c tfout.Classification, tool, profile string) Advice {
	if tool == "" {
		tool = "terraform"
	}
	a := Advice{Cause: c.Cause}
	pflag := ""
	if profile != "" {
		pflag = " --profile " + tfargs.Quote(profile)
	}
	who := "aws sts get-caller-identity" + pflag + "   # which identity " + tool + " uses"
	switch c.Cause {
	case tfout.CauseNone, "":
		// No classification (a journal started by tf guard recover): no
		// terraform run failed, there is nothing to advise about.
		return a
	case tfout.CauseExpired:
		a.LogIn = true
		shapes := ""
		if len(c.Shapes) > 0 {
			shapes = " (" + strings.Join(c.Shapes, ", ") + ")"
		}
		if c.Kind == tfout.KindSSOSessionExpired {
			a.Summary = "the IAM Identity Center (SSO) session ended during the run" + shapes + "."
			a.Steps = []string{"aws sso login" + pflag}
		} else {
			a.Summary = "the AWS credentials expired during the run" + shapes + "."
			if profile != "" {
				a.Steps = []string{"aws sso login" + pflag + "   # or however profile " + profile + " gets fresh credentials"}
			} else {
				a.Steps = []string{"# get fresh AWS credentials the way this machine gets them (aws sso login, a new role session, fresh keys)"}
			}
		}
	case tfout.CauseVanished:
		a.LogIn = true
		a.Summary = "the AWS credentials disappeared during the run: no credential source answered when " + tool + " tried to save (NoCredentialProviders)."
		a.Steps = []string{who,
			"# make the source available again (environment variables, ~/.aws/credentials, the instance or container role), then check again"}
	case tfout.CauseTransient:
		host := detail(c, "the backend")
		switch c.Kind {
		case tfout.KindDNS:
			a.Summary = "the name " + host + " did not resolve: DNS failed while " + tool + " talked to the backend; nothing is wrong with the credentials."
			a.Steps = []string{"nslookup " + tfargs.Quote(host) + "   # works again once DNS, VPN or proxy are back"}
		case tfout.KindThrottled:
			a.Summary = "AWS throttled the backend's requests (SlowDown / rate exceeded); it passes on its own."
			a.Steps = []string{"# wait a minute; no change is needed"}
		case tfout.KindServerError:
			a.Summary = "AWS answered the backend's request with a server error (5xx); nothing is wrong on this side."
			a.Steps = []string{"# wait and retry; the AWS Health Dashboard (https://health.aws.amazon.com) shows outages"}
		default:
			a.Summary = host + " did not answer (" + c.Kind + "): the network between this machine and the backend failed; nothing is wrong with the credentials."
			a.Steps = []string{"# check the network path to " + host + " (VPN, proxy, firewall)"}
		}
	case tfout.CausePermanent:
		a.Summary, a.Steps = permanentAdvice(c, tool, pflag, who)
	case tfout.CauseLookalike:
		a.Summary, a.Steps = lookalikeAdvice(c, tool, profile, pflag)
	default:
		a.Summary = tool + " could not save the state or release its lock, and tf does not recognise why: read " + tool + "'s error above."
	}
	return a
}

func permanentAdvice(c tfout.Classification, tool, pflag, who string) (string, []string) {
	switch c.Kind {
	case tfout.KindAccessDenied:
		action := c.Detail
		if action == "" {
			action = map[string]string{"save": "the state upload (s3:PutObject; with SSE-KMS also kms:GenerateDataKey)",
				"release": "the lock release (dynamodb:GetItem and dynamodb:DeleteItem, or s3:GetObject and s3:DeleteObject on the .tflock)"}[c.From]
			if action == "" {
				action = "a backend request"
			}
		}
		s := "AWS denied " + action
		if c.Principal != "" {
			s += " to " + c.Principal
		}
		if c.Resource != "" {
			s += " on " + c.Resource
		}
		s += ": a permission is missing; renewing the credentials will not fix it."
		fix := "# allow " + action
		if c.Resource != "" {
			fix += " on " + c.Resource
		}
		fix += " in the IAM policy of that identity (or the bucket policy), then run the command again"
		return s, []string{who, fix}
	case tfout.KindKMS:
		key := c.Resource
		if key == "" {
			key = "the state's KMS key"
		}
		s := "the KMS key refused the request (" + detail(c, "kms") + " on " + key + "): the identity may not use the key, or the key is disabled or pending deletion."
		steps := []string{who}
		if c.Resource != "" {
			steps = append(steps, "aws kms describe-key --key-id "+tfargs.Quote(c.Resource)+pflag+"   # KeyState must be Enabled")
		}
		return s, append(steps, "# allow kms:GenerateDataKey and kms:Decrypt on the key for that identity (key policy or IAM policy)")
	case tfout.KindNoSuchBucket:
		if c.Detail != "" {
			return "the state bucket " + c.Detail + " does not exist (or is in another account).",
				[]string{"aws s3api head-bucket --bucket " + tfargs.Quote(c.Detail) + pflag, "# fix bucket in the backend configuration, then: " + tool + " init -reconfigure"}
		}
		return "the state bucket does not exist (or is in another account).",
			[]string{"# check bucket in the backend configuration, then: " + tool + " init -reconfigure"}
	case tfout.KindNoSuchTable:
		s := "the DynamoDB lock table does not exist (or is in another region)."
		steps := []string{"# fix dynamodb_table (or region) in the backend configuration, then: " + tool + " init -reconfigure"}
		if c.Detail != "" {
			s = "the DynamoDB lock table " + c.Detail + " does not exist (or is in another region)."
			steps = append([]string{"aws dynamodb describe-table --table-name " + tfargs.Quote(c.Detail) + pflag}, steps...)
		}
		return s, steps
	case tfout.KindInvalidCredentials:
		codes := ""
		if len(c.NotExpiry) > 0 {
			codes = " (" + strings.Join(c.NotExpiry, ", ") + ")"
		}
		return "AWS does not accept these credentials" + codes + ": the keys are wrong, deleted or belong to another partition; they did not expire.",
			[]string{who, "# replace the access keys (or the secret) that " + tool + " uses"}
	case tfout.KindStateConflict:
		return "the backend refused the state: it belongs to another lineage, or the workspace was not locked for the upload.",
			[]string{tool + " state pull > remote.tfstate   # compare lineage and serial with errored.tfstate before any push",
				"# never push with -force before you know which state is right"}
	case tfout.KindConfiguration:
		return "the backend configuration does not match the bucket (wrong region or endpoint).",
			[]string{"# check region and endpoints in the backend configuration, then: " + tool + " init -reconfigure"}
	case tfout.KindUntrustedTLS:
		return "the backend's TLS certificate is not trusted on this machine (x509).",
			[]string{"# point AWS_CA_BUNDLE at the CA bundle of your proxy, or fix the system trust store"}
	}
	return "the backend refused the request for a reason that does not go away by retrying; read " + tool + "'s error above.", nil
}

func lookalikeAdvice(c tfout.Classification, tool, profile, pflag string) (string, []string) {
	switch c.Kind {
	case tfout.KindClockSkew:
		return "this machine's clock is wrong: AWS refused requests signed at the wrong time (RequestTimeTooSkewed / Signature expired). The credentials are fine; logging in does not help.",
			[]string{"date -u   # compare with the real UTC time", "sudo timedatectl set-ntp true   # or sync the clock the way this machine does it"}
	case tfout.KindTLSCertExpired:
		host := detail(c, "the server")
		steps := []string{"date -u   # a wrong clock makes valid certificates look expired"}
		if c.Detail != "" {
			steps = append(steps, "openssl s_client -connect "+c.Detail+":443 -servername "+c.Detail+" </dev/null | openssl x509 -noout -dates")
		}
		return "the TLS certificate of " + host + " has expired or is not yet valid (x509); this is not about AWS credentials.", steps
	case tfout.KindSSOCacheMissing:
		file := detail(c, "the SSO token cache file")
		return "the SSO token cache file " + file + " does not exist: " + tool + " looks for a cache file named after the profile's sso_session (or start URL) that the AWS CLI did not write. This is a configuration mismatch, not an expired session; logging in with a different setup will not create it.",
			[]string{"aws configure list" + pflag + "   # the profile " + tool + " uses",
				"# make the profile's sso_session / sso_start_url match the one you log in with, then check: ls -l " + tfargs.Quote(file)}
	case tfout.KindSSOTokenUnreadable:
		return tool + " could not read the SSO token cache (\"failed to read cached SSO token file\"): the S3 backend regression reported for terraform 1.6.4 (hashicorp/terraform#34248), not an expired session.",
			[]string{tool + " version   # seen with 1.6.4 and not with 1.6.3: run another version"}
	case tfout.KindProfileNotFound:
		p := detail(c, profile)
		if p == "" {
			p = "the profile"
		}
		return "the AWS profile " + p + " does not exist in the shared config files.",
			[]string{"aws configure list-profiles", "# fix profile in the backend configuration or AWS_PROFILE"}
	case tfout.KindLockHeld:
		s := "the state is locked by another run."
		var steps []string
		if c.Holder != nil {
			s = fmt.Sprintf("the state is locked by another run (%s, %s, since %s).", c.Holder.Who, c.Holder.Operation, c.Holder.Created)
			steps = []string{"# wait for that run; only if you are certain it is dead: " + unlockCommand(tool, c.Holder.ID)}
		} else {
			steps = []string{"# wait for that run; its lock ID is in the Lock Info above"}
		}
		return s, steps
	}
	return "the failure looks like a credentials problem but is not one tf may act on; read " + tool + "'s error above.", nil
}

func detail(c tfout.Classification, fallback string) string {
	if c.Detail != "" {
		return c.Detail
	}
	return fallback
}

// progressSentence says what the failed run did, from its own output: which
// planned changes completed, which were cut off, which failed. stateBack says
// whether the state now holds what errored.tfstate held (tf pushed it back).
// Without the "Plan:" line the total is unknown, and the sentence says so.
func progressSentence(p tfout.Progress, tool string, stateBack bool) string {
	if tool == "" {
		tool = "terraform"
	}
	n := len(p.Done)
	records := "errored.tfstate records them until it is pushed"
	if stateBack {
		records = "the state now records them"
	}
	if p.PlanSeen && p.Planned == 0 && n == 0 && len(p.Cut) == 0 && len(p.Failed) == 0 {
		return "the plan had no changes; nothing was made."
	}
	if len(p.Unrecorded) > 0 {
		// terraform's output and the state disagree: say so, claim nothing.
		return fmt.Sprintf("%d %s reported complete, but the state does not show %s; run %s plan to see where things stand.",
			n, changes(n, "was", "were"), addresses(p.Unrecorded), tool)
	}
	if p.AllMade() {
		if p.PlanSeen && p.Planned == 1 {
			return "the 1 planned change was made; " + strings.Replace(records, "them", "it", 1) + "."
		}
		if p.PlanSeen && p.Planned == 2 {
			return "both planned changes were made; " + records + "."
		}
		if p.PlanSeen {
			return fmt.Sprintf("all %d planned %s made; %s.", p.Planned, changes(p.Planned, "was", "were"), records)
		}
		return fmt.Sprintf("all changes were made (%d reported complete); %s.", n, records)
	}
	var b strings.Builder
	switch {
	case p.PlanSeen:
		fmt.Fprintf(&b, "%d of %d planned changes %s made", n, p.Planned, plural(n, "was", "were"))
	case n > 0:
		fmt.Fprintf(&b, "%d %s reported complete", n, changes(n, "was", "were"))
	default:
		b.WriteString(tool + "'s output does not say which changes were made")
	}
	if n > 0 {
		b.WriteString(" (" + records + ")")
	}
	if len(p.Cut) > 0 {
		fmt.Fprintf(&b, "; %d %s still in progress when the run ended (%s): check whether %s before applying again",
			len(p.Cut), plural(len(p.Cut), "was", "were"), addresses(p.Cut), plural(len(p.Cut), "it exists", "they exist"))
	}
	if len(p.Failed) > 0 {
		fmt.Fprintf(&b, "; %s failed (see %s's error)", strings.Join(p.Failed, ", "), tool)
	}
	if nm := p.NotMade(); len(nm) > 0 {
		fmt.Fprintf(&b, "; not started: %s", addresses(nm))
	}
	if p.PlanSeen {
		fmt.Fprintf(&b, "; run %s apply again for the rest.", tool)
	} else {
		fmt.Fprintf(&b, "; run %s plan to see what is left.", tool)
	}
	return b.String()
}

// addresses lists changes as "address action", the first eight of them.
func addresses(cs []tfout.Change) string {
	var out []string
	for i, c := range cs {
		if i == 8 {
			out = append(out, fmt.Sprintf("and %d more", len(cs)-i))
			break
		}
		out = append(out, c.Address+" "+c.Action)
	}
	return strings.Join(out, ", ")
}

func changes(n int, one, many string) string {
	if n == 1 {
		return "change " + one
	}
	return "changes " + many
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// adviceFor is the advice for c, with the profile in play.
func adviceFor(c tfout.Classification, flavor string, env []string, b Backend) *Advice {
	profile := cmp.Or(b.Profile, envlist.Get(env, envProfile))
	a := Advise(c, flavor, profile)
	if a.Summary == "" {
		return nil
	}
	return &a
}
