// Command sigcount stands in for terraform in the interrupt tests: it counts
// the SIGINTs it receives and writes what it saw to $SIGCOUNT_FILE.
//
// It writes "ready" once its handler is installed. After the first SIGINT it
// keeps listening for SIGCOUNT_LINGER (a Go duration) so that a second,
// duplicated delivery would be counted too, then writes "sigint N" and exits
// with 3 (a code tf has no reason to invent, so the test sees it is passed
// through). Without any SIGINT it gives up after SIGCOUNT_WAIT and writes
// "sigint 0", exiting 0.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	os.Exit(run())
}

func run() int {
	file := os.Getenv("SIGCOUNT_FILE")
	linger, err := time.ParseDuration(os.Getenv("SIGCOUNT_LINGER"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "sigcount: SIGCOUNT_LINGER:", err)
		return 125
	}
	wait, err := time.ParseDuration(os.Getenv("SIGCOUNT_WAIT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "sigcount: SIGCOUNT_WAIT:", err)
		return 125
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGINT)
	if err := os.WriteFile(file, []byte("ready\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "sigcount:", err)
		return 125
	}
	n := 0
	timeout := time.After(wait)
	var lingering <-chan time.Time
	for {
		select {
		case <-sigs:
			n++
			if lingering == nil {
				lingering = time.After(linger)
			}
		case <-lingering:
			return report(file, n, 3)
		case <-timeout:
			if lingering == nil {
				return report(file, n, 0)
			}
		}
	}
}

func report(file string, n, code int) int {
	if err := os.WriteFile(file, []byte(fmt.Sprintf("ready\nsigint %d\n", n)), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "sigcount:", err)
		return 125
	}
	fmt.Printf("sigcount: %d SIGINT\n", n)
	return code
}
