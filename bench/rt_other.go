//go:build !linux

package main

import "errors"

func realtime(on bool) error {
	if !on {
		return nil
	}
	return errors.New("-rt is only supported on Linux")
}
