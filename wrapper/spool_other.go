//go:build unix && !linux

package wrapper

import (
	"errors"
	"io"
	"os"
)

// spool exists on Linux only (inotify, holes); elsewhere terraform's output
// goes through a pipe when it is not a terminal.
type spool struct{ w *os.File }

func openSpool(string) (*spool, error) { return nil, errors.New("no spool on this system") }

func (s *spool) run(io.Writer, io.Writer) {}
func (s *spool) exited()                  {}
func (s *spool) close()                   {}
