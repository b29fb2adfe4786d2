package hold

// Read and written by the entry point and the handler (hold_amd64.s), which
// the kernel or the runtime calls: package-level, as a handler has no other
// way to find its state.
var (
	entered    uint32 // 1: the entry point ran (linked with -E)
	armed      uint32 // 1 from the entry point until Release: a signal forwarded by the runtime is rescued (step 5)
	reexeced   uint32 // 1: this image was started by a rescue
	initBegun  uint32 // 1 once init takes the handlers back: a self-raised signal is then the runtime's dieFromSignal (step 6)
	rescuing   uint32 // a thread is rescuing
	inflight   int32  // handlers between their start and their last write
	ownerPID   int64  // the handler acts in this process only, not in a forked child before its exec
	rescuerTID int64
	pending    uint64 // held signals, bit sig-1
	fwdMask    uint64 = Forwarded
	keptMask   uint64 = Kept
	// What a rescue carries to the next image: [0] the signal mask at
	// entry, [1:] earlystart's record of its child.
	carried [4]uint64
	argv    uintptr // the initial stack's argv, envp and AT_EXECFN
	envp    uintptr
	execfn  uintptr

	holdAct sigaction // this package's handler
	dflAct  sigaction // SIG_DFL
	origAct [65]sigaction
	rtAct   [65]sigaction // the runtime's, replaced by init
	rtSaved uint64        // which rtAct are set

	// The rescue's environment: the original one, the variable, NULL.
	envBuf    [maxEnv + 2]uintptr
	markerBuf = [len(markerPrefix) + 4*16 + 1]byte{'D', 'O', 'R', 'I', 'S', '_', 'E', 'N', 'T', 'R', 'Y', 'P', 'O', 'I', 'N', 'T', '_', 'H', 'E', 'L', 'D', '='}
)

const (
	markerPrefix = "DORIS_ENTRYPOINT_HELD=" // the asm's 22 bytes
	maxEnv       = 16384                    // more variables than this: no rescue
)

// Implemented in hold_amd64.s.
//
//go:noescape
func rtSigaction(sig uintptr, act, old *sigaction) uintptr

func raise(sig uintptr)
func xchgPending() uint64
func loadInflight() int32
func storeArmed(v uint32)
func yield()

func init() {
	if entered == 0 {
		return
	}
	// Step 6: take the handlers back from the runtime. Set before the
	// first one is: from then on the runtime's raise reaches this handler.
	initBegun = 1
	for sig := uintptr(1); sig <= 64; sig++ {
		if Forwarded&(1<<(sig-1)) == 0 || origAct[sig].handler == sigIgn {
			continue
		}
		var prev sigaction
		rtSigaction(sig, &holdAct, &prev)
		if prev.handler != holdAct.handler {
			rtAct[sig], rtSaved = prev, rtSaved|1<<(sig-1)
		}
	}
	// Still armed: a thread may be in dieFromSignal for a signal the
	// runtime's handler caught just before, and forward it any moment now.
}

func take() uint64 {
	if entered == 0 {
		return 0
	}
	for loadInflight() != 0 {
		yield()
	}
	return xchgPending()
}

func release() {
	if entered == 0 {
		return
	}
	storeArmed(0) // from now on the runtime's dieFromSignal is meant to end the process
	for sig := uintptr(1); sig <= 64; sig++ {
		switch bit := uint64(1) << (sig - 1); {
		case rtSaved&bit != 0:
			rtSigaction(sig, &rtAct[sig], nil)
		case Forwarded&bit != 0 && origAct[sig].handler != sigIgn:
			rtSigaction(sig, &origAct[sig], nil)
		}
	}
	for p := take(); p != 0; p &= p - 1 {
		raise(uintptr(trailingZeros(p)) + 1)
	}
}

func keptBlocked() uint64 {
	if entered == 0 {
		return 0
	}
	return keptMask &^ carried[0]
}

func trailingZeros(x uint64) int {
	n := 0
	for x&1 == 0 {
		x >>= 1
		n++
	}
	return n
}
