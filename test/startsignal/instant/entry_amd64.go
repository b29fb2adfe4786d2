package main

// entry is instant_amd64.s.
func entry()
