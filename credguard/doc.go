// Package credguard knows how long the AWS credentials a terraform run will
// use are going to live, and makes them live longer: it refreshes IAM
// Identity Center (SSO) tokens ahead of time, logs in again when a person is
// at a terminal, and refuses a run that its credentials cannot finish.
// It never imports recovery; the wrapper drives both.
package credguard
