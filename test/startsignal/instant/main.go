// Command instant is the child of the start-signal test, whose every action
// is its entry point's (instant_amd64.s; linked with -E main.entry, main
// never runs):
//
//	instant             print "ready" on stdout at once, then wait for a signal
//	                    with its default action (SIGTERM ends it)
//	instant ns CMD...   as PID 1 of a new PID and mount namespace: make the
//	                    mounts private, mount a fresh /proc, exec CMD, which
//	                    becomes PID 1
package main

func main() {}
