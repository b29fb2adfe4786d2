//go:build amd64 || arm64

package rtsig

const supported = true

func handler()
