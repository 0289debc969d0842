// Package tfout reads terraform's (and OpenTofu's) human text: the
// diagnostics on stderr (Classify, ClassifySideCall, ReleaseFailedIn,
// PushRefused, the Lock Info block of a lock that is held) and an apply's
// progress on stdout (ReadProgress, ReadLiveLine, KeepProgressLine).
//
// It is the only package of tf that reads terraform's text; no code in
// recovery/ or tfargs/ imports regexp (TestOnlyTfoutReadsText). Terraform's diagnostics are not covered
// by its compatibility promise, so every pattern lives here and is tested
// against recorded output in testdata/: the rig's captures
// (patterns_test.go), real users' output from public issues in
// testdata/realworld (corpus_test.go) and real apply output in
// testdata/progress (progress_test.go). Structured sources (the lock record,
// the backend config, the state files' JSON) always win over what is read
// here.
//
// The patterns are compiled on first use (sync.OnceValue), never at package
// initialisation: tf runs as `terraform` for every command, and most never
// read terraform's text (TestStartupInitAllocations).
//
// tfout imports nothing of tf's own packages.
package tfout
