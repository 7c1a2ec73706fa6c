package main

import (
	"errors"
	"io/fs"
)

var fsErrNotExist = fs.ErrNotExist

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
