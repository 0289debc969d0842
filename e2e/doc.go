// Package e2e holds the incident rig (real terraform against a real S3 and a
// real DynamoDB behind an expiry-enforcing proxy, with AWS's identity
// services faked faithfully) and the scenario tests that run the real tf
// binary through it.
package e2e
