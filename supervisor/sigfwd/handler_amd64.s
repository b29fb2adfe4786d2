#include "textflag.h"

// handler(sig) is called by the kernel with the C ABI: sig in DI. It
// forwards sig to -targetPGID and reports on the pipe; see sigfwd.go.
// Every register is restored by sigreturn. The record is built in the red
// zone below SP: this is a leaf, and all signals are masked while it runs.
TEXT ·handler(SB),NOSPLIT|NOFRAME,$0
	MOVQ DI, R8                // sig
	MOVQ $39, AX               // getpid
	SYSCALL
	CMPQ AX, ·ownerPID(SB)
	JNE  done                  // a forked child before exec: not ours
	LOCK
	INCQ ·inflight(SB)         // (1) Sync waits for this record
	MOVQ ·targetPGID(SB), R9
	MOVQ R8, R10               // record word: sig
	TESTQ R9, R9
	JLE  send
	MOVQ R9, DI
	NEGQ DI                    // kill(-pgid, sig)
	MOVQ R8, SI
	MOVQ $62, AX               // kill
	SYSCALL
	TESTQ AX, AX
	JNE  send
	ORQ  $0x80, R10            // forwarded
send:
	MOVL R10, -16(SP)
	MOVL R9, -12(SP)
	MOVQ ·pipeFD(SB), DI
	LEAQ -16(SP), SI
	MOVQ $8, DX
	MOVQ $1, AX                // write; EAGAIN on a full pipe drops the record
	SYSCALL
	LOCK
	DECQ ·inflight(SB)         // (3) written
done:
	RET

TEXT ·handlerAddr(SB),NOSPLIT,$0-8
	LEAQ ·handler(SB), AX
	MOVQ AX, ret+0(FP)
	RET
