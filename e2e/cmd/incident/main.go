// Command incident replays the seed incident on the local rig: a long
// `terraform apply` whose AWS role credentials (from an SSO profile) expire before the final
// state write, against a real S3 (gofakes3) and a real DynamoDB (dynalite)
// behind a proxy that answers exactly as AWS does. It runs the incident once
// with plain terraform and once with tf installed as `terraform`, and prints
// side by side what each left behind.
//
//	go run ./e2e/cmd/incident
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, stdout, stderr io.Writer, getenv func(string) string) int {
	inc, err := newIncident(ctx, stdout, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "incident: %v\n", err)
		return 1
	}
	defer inc.close()
	if err := inc.replay(ctx); err != nil {
		fmt.Fprintf(stderr, "incident: %v\n", err)
		return 1
	}
	return 0
}
