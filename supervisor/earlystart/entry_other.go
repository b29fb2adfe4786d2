//go:build !amd64

package earlystart

// entry does not exist here: the Makefile links with -E only on amd64.
