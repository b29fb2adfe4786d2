//go:build !amd64 && !arm64

package rtsig

const supported = false

func handlerAddr() uintptr { return 0 }
