#include "textflag.h"

// handler is the SIGRTMIN handler: write(pipeFD, &oneB, 1), nothing else.
// The kernel restores every register on sigreturn; LR holds the restorer.
TEXT ·handler(SB),NOSPLIT|NOFRAME,$0
	MOVD ·pipeFD(SB), R0
	MOVD $·oneB(SB), R1
	MOVD $1, R2
	MOVD $64, R8 // SYS_write
	SVC
	RET

TEXT ·handlerAddr(SB),NOSPLIT,$0-8
	MOVD $·handler(SB), R0
	MOVD R0, ret+0(FP)
	RET
