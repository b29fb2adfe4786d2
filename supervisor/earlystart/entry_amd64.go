package earlystart

// entry is the assembly process entry point (entry_amd64.s).
func entry()
