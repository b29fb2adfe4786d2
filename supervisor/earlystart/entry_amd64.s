#include "textflag.h"

// entry is the process entry point when the binary is linked with
// -E .../earlystart.entry. The stack is as the kernel left it: argc at 0(SP),
// argv at 8(SP), NULL, envp. Above SP, only a rescue's variable is removed
// from envp (package hold); scratch space is the area below SP (nothing else
// runs on this stack yet). Every path ends in the runtime's own entry point
// with SP untouched.
TEXT ·entry(SB),NOSPLIT|NOFRAME,$0
	// First of all, on every command line: block the forwarded signals and
	// install package hold's handler (its step 1).
	CALL _doris_hold_enter(SB)
	TESTQ AX, AX
	JNE  reexeced

	// argc >= 4: supervise -- /path
	MOVQ 0(SP), AX
	CMPQ AX, $4
	JLT  leave

	// argv[1] == "supervise"
	MOVQ 16(SP), SI
	LEAQ ·wordSupervise(SB), DI
cmpword:
	MOVBLZX (SI), AX
	MOVBLZX (DI), BX
	CMPL AX, BX
	JNE  leave
	TESTL AX, AX
	JEQ  word_ok
	INCQ SI
	INCQ DI
	JMP  cmpword
word_ok:
	// argv[2] == "--"
	MOVQ 24(SP), SI
	CMPB 0(SI), $'-'
	JNE  leave
	CMPB 1(SI), $'-'
	JNE  leave
	CMPB 2(SI), $0
	JNE  leave
	// argv[3] is absolute
	MOVQ 32(SP), SI
	CMPB 0(SI), $'/'
	JNE  leave

	// stdin a terminal? (the ordinary path hands it the foreground)
	MOVQ $16, AX               // ioctl
	MOVQ $0, DI
	MOVQ $0x540F, SI           // TIOCGPGRP
	LEAQ -64(SP), DX
	SYSCALL
	TESTQ AX, AX
	JEQ  leave

	// close_range(3, ~0U, CLOSE_RANGE_CLOEXEC); no fast path without it
	MOVQ $436, AX
	MOVQ $3, DI
	MOVL $0xffffffff, SI
	MOVQ $4, DX
	SYSCALL
	TESTQ AX, AX
	JNE  leave

	// not PID 1: prctl(PR_SET_CHILD_SUBREAPER, 1)
	MOVQ $39, AX               // getpid
	SYSCALL
	CMPQ AX, $1
	JEQ  pipe
	MOVQ $157, AX              // prctl
	MOVQ $36, DI
	MOVQ $1, SI
	XORQ DX, DX
	XORQ R10, R10
	XORQ R8, R8
	SYSCALL

pipe:
	MOVQ $293, AX              // pipe2(errPipe, O_CLOEXEC)
	LEAQ ·errPipe(SB), DI
	MOVQ $0x80000, SI
	SYSCALL
	TESTQ AX, AX
	JNE  leave

	MOVQ $14, AX               // rt_sigprocmask(SIG_BLOCK, &allSigs, NULL, 8)
	MOVQ $0, DI
	LEAQ ·allSigs(SB), SI
	XORQ DX, DX
	MOVQ $8, R10
	SYSCALL

	MOVQ $57, AX               // fork
	SYSCALL
	TESTQ AX, AX
	JEQ  child
	JLT  forkfailed

	// parent
	MOVQ AX, ·childPID(SB)
	MOVQ $3, AX                // close(errPipe[1])
	MOVLQSX ·errPipe+4(SB), DI
	SYSCALL
	// Wait for the exec: EOF when it succeeded (the pipe is close-on-exec),
	// 4 bytes of errno when it failed. Meanwhile the child has the CPU to
	// itself instead of racing the runtime's start-up. Signals are blocked,
	// so no EINTR.
	MOVQ $0, AX                // read(errPipe[0], &execErrno, 4)
	MOVLQSX ·errPipe+0(SB), DI
	LEAQ ·execErrno(SB), SI
	MOVQ $4, DX
	SYSCALL
	MOVQ AX, ·execRead(SB)
	MOVQ $3, AX                // close(errPipe[0])
	MOVLQSX ·errPipe+0(SB), DI
	SYSCALL
	// Waking up, we may have preempted the child on its CPU; hand it back
	// before the runtime's start-up takes a millisecond of it.
	MOVQ $24, AX               // sched_yield
	SYSCALL
	JMP  carry

forkfailed:
	MOVQ $3, AX
	MOVLQSX ·errPipe+0(SB), DI
	SYSCALL
	MOVQ $3, AX
	MOVLQSX ·errPipe+4(SB), DI
	SYSCALL

carry:
	// What a rescue must carry to the next image (package hold, step 5).
	MOVQ ·childPID(SB), AX
	MOVQ ·execRead(SB), BX
	MOVLQZX ·execErrno(SB), CX
	CALL _doris_hold_setcarry(SB)

leave:
	// The mask the runtime starts with (hold's step 3), and what was held
	// reaches hold's handler.
	CALL _doris_hold_leave(SB)
	JMP _rt0_amd64_linux(SB)

reexeced:
	// A rescue started this image: the child, if any, already runs.
	CALL _doris_hold_getcarry(SB)
	MOVQ AX, ·childPID(SB)
	MOVQ BX, ·execRead(SB)
	MOVL CX, ·execErrno(SB)
	JMP  leave

child:
	MOVQ $109, AX              // setpgid(0, 0)
	XORQ DI, DI
	XORQ SI, SI
	SYSCALL
	CALL _doris_hold_childmask(SB) // the mask PID 1 was given
	// execve(argv[3], &argv[3], envp); envp = SP + 8*(argc+2)
	MOVQ 0(SP), CX
	LEAQ 16(SP)(CX*8), DX
	LEAQ 32(SP), SI
	MOVQ 32(SP), DI
	MOVQ $59, AX
	SYSCALL
	// exec failed: report errno; exit 127 (not found) or 126, as a shell
	NEGQ AX
	MOVQ AX, R12
	MOVL AX, -8(SP)
	MOVQ $1, AX                // write(errPipe[1], &errno, 4)
	MOVLQSX ·errPipe+4(SB), DI
	LEAQ -8(SP), SI
	MOVQ $4, DX
	SYSCALL
	MOVQ $127, DI
	CMPQ R12, $2               // ENOENT
	JEQ  exit
	CMPQ R12, $20              // ENOTDIR
	JEQ  exit
	MOVQ $126, DI
exit:
	MOVQ $231, AX              // exit_group
	SYSCALL
	RET
