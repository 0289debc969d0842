package recovery

import (
	"github.com/tfguard/tf/tfargs"
	"github.com/tfguard/tf/tfout"
)

// How an outcome reaches the person. Every path that ends a recovery
// entry point returns through one of these, so whether it writes
// report.json is named where it is decided:
//
//   - reported: the human text, report.json, and (in GitHub Actions) an
//     annotation. Every path that read or changed this state's backend or
//     recovery ends here, so report.json records what tf found and did.
//   - sayOnly: the human text only. For paths that neither read nor
//     changed this state: bad input (an unknown --use), nothing to abandon,
//     a pending recovery that belongs to another state (its own report.json
//     stays the record), a login that failed before terraform locked
//     anything. Writing report.json there would overwrite the last real
//     report with one about nothing.
//
// Two further paths print nothing through these: Recover's NotCredentials
// (terraform's own error stands; tf adds nothing) and --show, which prints
// its survey and plan line by line.

// reported prints o, writes report.json and annotations, and returns o.
func reported(r Run, o Outcome) Outcome {
	report(r, &o)
	return o
}

// sayOnly prints o and writes no report.json (see above for when).
func sayOnly(r Run, o Outcome) Outcome {
	writeHuman(r.Out, r, &o)
	return o
}

// failed is the outcome of an error that stops tf before it acted: a
// person must look, and the error is the summary.
func failed(r Run, err error) Outcome {
	return Outcome{Kind: NeedsPerson, Summary: err.Error(), Error: err.Error()}
}

// noRecord is the outcome when tf cannot keep a journal of a failure: it
// says everything there is now (nothing is pending), this run's lock ID
// included, so that nothing is lost with the journal that was not written.
func noRecord(r Run, c tfout.Classification, err error, fresh bool, errPath string) Outcome {
	o := Outcome{Kind: NeedsPerson, Class: c, Summary: err.Error() + "; tf could not keep a record of this failure", Error: err.Error(),
		Advice: adviceFor(c, r.Flavor, r.Env, Backend{})}
	f := nextFacts{Tool: r.Flavor, NoRecord: err.Error()}
	if fresh {
		o.Saved = []string{errPath}
		f.Errored, f.Saved = true, o.Saved
	}
	if c.ReleaseFailed && c.LockID != "" && tfargs.Parse(terraformArgs(r)).TakesLock() {
		// terraform printed it in this run's own failure to release it.
		o.LockID, o.Evidence = c.LockID, EvidencePrinted
		f.OwnID = c.LockID
	}
	o.Next = nextSteps(f)
	report(r, &o)
	return o
}
