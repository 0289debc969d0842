package recovery

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
