// Command tf is terraform with a guard against expiring AWS credentials.
// Everything lives in wrapper/; this file only wires the process to it.
package main

import (
	"os"

	"github.com/tfguard/tf/wrapper"
)

// version is stamped at release time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(wrapper.Main(wrapper.Process{
		Args:    os.Args,
		Environ: os.Environ(),
		Stdin:   os.Stdin,
		Stdout:  os.Stdout,
		Stderr:  os.Stderr,
		Version: version,
		Hooks:   wrapper.ProductHooks(),
	}))
}
