#include "textflag.h"

// handler(sig) is called by the kernel with the C ABI: sig in R0. It
// forwards sig to -targetPGID and reports on the pipe; see sigfwd.go.
// Every register is restored by sigreturn; LR holds the restorer.
TEXT ·handler(SB),NOSPLIT|NOFRAME,$0
	MOVD R0, R9                // sig
	MOVD $172, R8              // getpid
	SVC
	MOVD ·ownerPID(SB), R10
	CMP  R10, R0
	BNE  done                  // a forked child before exec: not ours
	MOVD $·inflight(SB), R13   // (1) Sync waits for this record
inc:
	LDAXR (R13), R14
	ADD  $1, R14
	STLXR R14, (R13), R15
	CBNZ R15, inc
	MOVD ·targetPGID(SB), R11
	MOVD R9, R12               // record word: sig
	CMP  $0, R11
	BLE  send
	NEG  R11, R0               // kill(-pgid, sig)
	MOVD R9, R1
	MOVD $129, R8              // kill
	SVC
	CMP  $0, R0
	BNE  send
	ORR  $0x80, R12            // forwarded
send:
	SUB  $16, RSP
	MOVW R12, 0(RSP)
	MOVW R11, 4(RSP)
	MOVD ·pipeFD(SB), R0
	MOVD RSP, R1
	MOVD $8, R2
	MOVD $64, R8               // write; EAGAIN on a full pipe drops the record
	SVC
	ADD  $16, RSP
dec:
	LDAXR (R13), R14           // (3) written
	SUB  $1, R14
	STLXR R14, (R13), R15
	CBNZ R15, dec
done:
	RET

TEXT ·handlerAddr(SB),NOSPLIT,$0-8
	MOVD $·handler(SB), R0
	MOVD R0, ret+0(FP)
	RET
