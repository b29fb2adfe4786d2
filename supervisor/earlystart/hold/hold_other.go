//go:build !amd64

package hold

// No entry point here (the Makefile links with -E only on amd64): nothing is
// held, a signal before NotifySignals has Go's default effect.

func take() uint64 { return 0 }

func release() {}

func keptBlocked() uint64 { return 0 }
