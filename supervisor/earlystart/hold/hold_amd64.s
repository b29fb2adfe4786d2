#include "textflag.h"

// The steps are numbered as in hold.go. The _doris_hold_* symbols have no
// package prefix so that earlystart's entry point can call them (an
// assembly reference cannot spell this module's path); they are linked in
// because earlystart imports this package.

#define SYS_rt_sigaction 13
#define SYS_rt_sigprocmask 14
#define SYS_sched_yield 24
#define SYS_pause 34
#define SYS_getpid 39
#define SYS_execve 59
#define SYS_kill 62
#define SYS_gettid 186
#define SYS_tgkill 234
#define MAX_ENV 16384

// _doris_hold_enter is called by earlystart's entry point first of all. The
// initial stack (argc, argv..., NULL, envp..., NULL, auxv) starts at 8(SP).
// Steps 1 and the end of 5: block, note argv/envp/AT_EXECFN, take a
// rescue's variable back out of the environment, install the handler.
// Returns AX = 1 when a rescue started this image.
TEXT _doris_hold_enter(SB),NOSPLIT|NOFRAME,$0
	MOVQ $SYS_rt_sigprocmask, AX // rt_sigprocmask(SIG_BLOCK, &fwdMask, &carried[0], 8)
	XORQ DI, DI
	LEAQ ·fwdMask(SB), SI
	LEAQ ·carried(SB), DX
	MOVQ $8, R10
	SYSCALL
	MOVL $1, ·entered(SB)

	MOVQ 8(SP), CX             // argc
	LEAQ 16(SP), SI
	MOVQ SI, ·argv(SB)
	LEAQ 24(SP)(CX*8), DI      // envp: past argv's NULL
	MOVQ DI, ·envp(SB)
	XORQ R8, R8                // &envp[last]
	XORQ R9, R9                // count
envscan:
	MOVQ (DI), AX
	TESTQ AX, AX
	JEQ  envend
	MOVQ DI, R8
	INCQ R9
	ADDQ $8, DI
	JMP  envscan
envend:
	ADDQ $8, DI                // auxv: (type, value) pairs up to AT_NULL
auxscan:
	MOVQ (DI), AX
	TESTQ AX, AX
	JEQ  auxend
	CMPQ AX, $31               // AT_EXECFN
	JNE  auxnext
	MOVQ 8(DI), AX
	MOVQ AX, ·execfn(SB)
auxnext:
	ADDQ $16, DI
	JMP  auxscan
auxend:
	// A rescue's variable is the environment's last entry:
	// DORIS_ENTRYPOINT_HELD= and 4 words in 16 hex digits each.
	TESTQ R8, R8
	JEQ  handlers
	MOVQ (R8), SI
	LEAQ ·markerBuf(SB), DI
	MOVQ $22, CX
prefix:
	MOVBLZX (SI), AX
	MOVBLZX (DI), DX
	CMPL AX, DX
	JNE  handlers
	INCQ SI
	INCQ DI
	DECQ CX
	JNZ  prefix
	LEAQ -40(SP), DI           // decoded words, committed once all are valid
	MOVQ $4, R10
decword:
	XORQ DX, DX
	MOVQ $16, CX
decdigit:
	MOVBLZX (SI), AX
	SUBL $'0', AX
	CMPL AX, $10
	JCS  decok                 // '0'-'9'
	SUBL $('a'-'0'), AX
	CMPL AX, $6
	JCC  handlers              // not 'a'-'f': not ours
	ADDL $10, AX
decok:
	SHLQ $4, DX
	ORQ  AX, DX
	INCQ SI
	DECQ CX
	JNZ  decdigit
	MOVQ DX, (DI)
	ADDQ $8, DI
	DECQ R10
	JNZ  decword
	CMPB (SI), $0
	JNE  handlers
	MOVQ -40(SP), AX
	MOVQ AX, ·carried+0(SB)
	MOVQ -32(SP), AX
	MOVQ AX, ·carried+8(SB)
	MOVQ -24(SP), AX
	MOVQ AX, ·carried+16(SB)
	MOVQ -16(SP), AX
	MOVQ AX, ·carried+24(SB)
	MOVQ $0, (R8)              // gone from the environment
	DECQ R9
	MOVL $1, ·reexeced(SB)

handlers:
	MOVQ $SYS_getpid, AX
	SYSCALL
	MOVQ AX, ·ownerPID(SB)
	LEAQ _doris_hold_handler(SB), AX
	MOVQ AX, ·holdAct+0(SB)
	MOVQ $0x1C000004, ·holdAct+8(SB) // SA_ONSTACK|SA_RESTART|SA_RESTORER|SA_SIGINFO
	LEAQ _doris_hold_restorer(SB), AX
	MOVQ AX, ·holdAct+16(SB)
	MOVQ $-1, ·holdAct+24(SB)  // every signal masked while it runs
	MOVQ $1, R8                // sig
install:
	LEAQ -1(R8), CX
	MOVQ ·fwdMask(SB), AX
	BTQ  CX, AX
	JCC  installed
	MOVQ R8, DX                // rt_sigaction(sig, &holdAct, &origAct[sig], 8)
	SHLQ $5, DX
	LEAQ ·origAct(SB), SI
	ADDQ SI, DX
	MOVQ R8, DI
	LEAQ ·holdAct(SB), SI
	MOVQ $8, R10
	MOVQ $SYS_rt_sigaction, AX
	SYSCALL
	CMPQ 0(DX), $1             // was SIG_IGN: it stays ignored
	JNE  installed
	MOVQ R8, DI
	MOVQ DX, SI
	XORQ DX, DX
	MOVQ $SYS_rt_sigaction, AX
	SYSCALL
installed:
	INCQ R8
	CMPQ R8, $64
	JLE  install

	// The rescue needs the path and room for the environment.
	CMPQ ·execfn(SB), $0
	JEQ  unarmed
	CMPQ R9, $MAX_ENV
	JGT  unarmed
	MOVL $1, ·armed(SB)
unarmed:
	MOVL ·reexeced(SB), AX
	RET

// _doris_hold_leave sets the mask the runtime starts with (step 3): the one
// saved at entry, plus the signals kept blocked through the runtime's
// start-up (keptMask); the rest of what was held reaches the handler.
TEXT _doris_hold_leave(SB),NOSPLIT|NOFRAME,$0
	MOVQ ·carried+0(SB), AX
	ORQ  ·keptMask(SB), AX
	MOVQ AX, -16(SP)           // scratch below SP: nothing else runs on this stack
	MOVQ $SYS_rt_sigprocmask, AX // rt_sigprocmask(SIG_SETMASK, &mask, NULL, 8)
	MOVQ $2, DI
	LEAQ -16(SP), SI
	XORQ DX, DX
	MOVQ $8, R10
	SYSCALL
	RET

// _doris_hold_childmask restores the mask saved at entry exactly, in the
// early child before its exec (step 2).
TEXT _doris_hold_childmask(SB),NOSPLIT|NOFRAME,$0
	MOVQ $SYS_rt_sigprocmask, AX // rt_sigprocmask(SIG_SETMASK, &carried[0], NULL, 8)
	MOVQ $2, DI
	LEAQ ·carried(SB), SI
	XORQ DX, DX
	MOVQ $8, R10
	SYSCALL
	RET

// _doris_hold_setcarry keeps earlystart's record (AX, BX, CX) for a rescue;
// _doris_hold_getcarry returns it in the image a rescue started.
TEXT _doris_hold_setcarry(SB),NOSPLIT|NOFRAME,$0
	MOVQ AX, ·carried+8(SB)
	MOVQ BX, ·carried+16(SB)
	MOVQ CX, ·carried+24(SB)
	RET

TEXT _doris_hold_getcarry(SB),NOSPLIT|NOFRAME,$0
	MOVQ ·carried+8(SB), AX
	MOVQ ·carried+16(SB), BX
	MOVQ ·carried+24(SB), CX
	RET

TEXT _doris_hold_restorer(SB),NOSPLIT|NOFRAME,$0
	MOVQ $15, AX               // rt_sigreturn
	SYSCALL
	INT  $3

// _doris_hold_handler(sig) is called with the C ABI, sig in DI: by the
// kernel, or in step 5 by the runtime's sigfwd, which expects the
// callee-saved registers kept (only AX, CX, DX, SI, DI, R8-R11 are used).
// Every signal is masked while it runs (its sa_mask, or the runtime's).
// SI is the siginfo (SA_SIGINFO; sigfwd passes the runtime's).
// Scratch space: the red zone below SP.
TEXT _doris_hold_handler(SB),NOSPLIT|NOFRAME,$0
	MOVQ DI, R8
	CMPQ R8, $1
	JLT  ret
	CMPQ R8, $64
	JGT  ret
	MOVQ $SYS_getpid, AX
	SYSCALL
	MOVQ AX, R9                // pid
	CMPQ AX, ·ownerPID(SB)
	JNE  foreign
	LOCK
	INCL ·inflight(SB)
	LEAQ -1(R8), CX            // pending |= 1 << (sig-1)
	MOVQ $1, AX
	SHLQ CX, AX
	LOCK
	ORQ  AX, ·pending(SB)
	CMPL ·armed(SB), $0
	JEQ  done
	// Delivered by the kernel (it returns to our restorer), or forwarded
	// by the runtime's dieFromSignal (step 5)?
	LEAQ _doris_hold_restorer(SB), AX
	CMPQ AX, 0(SP)
	JNE  rescue
	// Delivered by the kernel, but raised by this process on its own thread
	// (si_code SI_TKILL, si_pid ours) once init has begun: dieFromSignal's
	// raise for a signal the runtime's handler caught just before (step 6).
	CMPL ·initBegun(SB), $0
	JEQ  done
	CMPL 8(SI), $-6            // siginfo.si_code == SI_TKILL
	JNE  done
	CMPL 16(SI), R9            // siginfo.si_pid == getpid()
	JEQ  rescue
done:
	LOCK
	DECL ·inflight(SB)
ret:
	RET

foreign:
	// A child forked at the entry point (or by the runtime), before its
	// exec: the signal's default action, as it would have had.
	MOVQ R8, DI                // rt_sigaction(sig, &dflAct, NULL, 8)
	LEAQ ·dflAct(SB), SI
	XORQ DX, DX
	MOVQ $8, R10
	MOVQ $SYS_rt_sigaction, AX
	SYSCALL
	MOVQ $SYS_gettid, AX
	SYSCALL
	MOVQ AX, SI                // tgkill(pid, tid, sig): delivered on return
	MOVQ R9, DI
	MOVQ R8, DX
	MOVQ $SYS_tgkill, AX
	SYSCALL
	RET

rescue:
	// Step 5. One thread rescues; the others hand it their signal.
	MOVL $1, CX
	XORL AX, AX
	LOCK
	CMPXCHGL CX, ·rescuing(SB)
	JNE  follower
	MOVQ $SYS_gettid, AX
	SYSCALL
	MOVQ AX, ·rescuerTID(SB)
	LOCK
	DECL ·inflight(SB)
drain:
	CMPL ·inflight(SB), $0
	JEQ  drained
	PAUSE
	JMP  drain
drained:
	// Queue what was held on this thread again: masked here (the handler
	// runs with every signal masked), it stays pending across the exec.
	XORQ AX, AX
	XCHGQ AX, ·pending(SB)
	MOVQ AX, -72(SP)
	MOVQ $1, R8
requeue:
	LEAQ -1(R8), CX
	MOVQ -72(SP), AX
	BTQ  CX, AX
	JCC  requeued
	MOVQ R9, DI
	MOVQ ·rescuerTID(SB), SI
	MOVQ R8, DX
	MOVQ $SYS_tgkill, AX
	SYSCALL
requeued:
	INCQ R8
	CMPQ R8, $64
	JLE  requeue

	// The environment: the original one, then the variable.
	MOVQ ·envp(SB), SI
	LEAQ ·envBuf(SB), DI
	XORQ CX, CX
copyenv:
	MOVQ (SI)(CX*8), AX
	TESTQ AX, AX
	JEQ  copied
	MOVQ AX, (DI)(CX*8)
	INCQ CX
	JMP  copyenv
copied:
	LEAQ ·markerBuf(SB), AX
	MOVQ AX, (DI)(CX*8)
	MOVQ $0, 8(DI)(CX*8)
	LEAQ ·carried(SB), SI      // its value: carried[0..3], 16 hex digits each
	LEAQ ·markerBuf+22(SB), DI
	MOVQ $4, R10
encword:
	MOVQ (SI), AX
	MOVQ $16, CX
encdigit:
	ROLQ $4, AX
	MOVQ AX, DX
	ANDQ $15, DX
	ADDQ $'0', DX
	CMPQ DX, $'9'
	JLE  encok
	ADDQ $('a'-'9'-1), DX
encok:
	MOVB DX, (DI)
	INCQ DI
	DECQ CX
	JNZ  encdigit
	ADDQ $8, SI
	DECQ R10
	JNZ  encword
	MOVB $0, (DI)

	MOVQ ·execfn(SB), DI       // execve(AT_EXECFN, argv, envBuf)
	MOVQ ·argv(SB), SI
	LEAQ ·envBuf(SB), DX
	MOVQ $SYS_execve, AX
	SYSCALL
	// The exec failed: back to the runtime, which ends the process as it
	// would have (the others wait to be ended with it).
	RET

follower:
	MOVQ ·rescuerTID(SB), AX
	TESTQ AX, AX
	JNE  handoff
	PAUSE
	JMP  follower
handoff:
	MOVQ AX, SI                // tgkill(pid, rescuer, sig)
	MOVQ R9, DI
	MOVQ R8, DX
	MOVQ $SYS_tgkill, AX
	SYSCALL
	LOCK
	DECL ·inflight(SB)
wait:
	MOVQ $SYS_pause, AX        // every signal is masked: until the exec ends this thread
	SYSCALL
	JMP  wait

// func rtSigaction(sig uintptr, act, old *sigaction) uintptr
TEXT ·rtSigaction(SB),NOSPLIT,$0-32
	MOVQ sig+0(FP), DI
	MOVQ act+8(FP), SI
	MOVQ old+16(FP), DX
	MOVQ $8, R10
	MOVQ $SYS_rt_sigaction, AX
	SYSCALL
	MOVQ AX, ret+24(FP)
	RET

// func raise(sig uintptr): kill(getpid(), sig)
TEXT ·raise(SB),NOSPLIT,$0-8
	MOVQ $SYS_getpid, AX
	SYSCALL
	MOVQ AX, DI
	MOVQ sig+0(FP), SI
	MOVQ $SYS_kill, AX
	SYSCALL
	RET

// func xchgPending() uint64
TEXT ·xchgPending(SB),NOSPLIT,$0-8
	XORQ AX, AX
	XCHGQ AX, ·pending(SB)
	MOVQ AX, ret+0(FP)
	RET

// func loadInflight() int32
TEXT ·loadInflight(SB),NOSPLIT,$0-4
	MOVL ·inflight(SB), AX
	MOVL AX, ret+0(FP)
	RET

// func storeArmed(v uint32)
TEXT ·storeArmed(SB),NOSPLIT,$0-4
	MOVL v+0(FP), AX
	XCHGL AX, ·armed(SB)
	RET

// func yield()
TEXT ·yield(SB),NOSPLIT,$0-0
	MOVQ $SYS_sched_yield, AX
	SYSCALL
	RET
