// Package confpatch reads Doris conf files (fe.conf, be.conf), changes given
// keys on their own lines only, and restores the original bytes exactly:
// atomic, crash-safe and idempotent. It never re-serialises a whole file.
//
// Its implementation comes with the debug-mode issue; the package exists now
// so that the layout is the final one.
package confpatch
