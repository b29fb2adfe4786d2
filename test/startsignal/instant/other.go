//go:build !amd64

package main

// The entry point is amd64 assembly; the test skips elsewhere.
func entry() {}
