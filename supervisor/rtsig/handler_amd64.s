#include "textflag.h"

// handler is the SIGRTMIN handler: write(pipeFD, &oneB, 1), nothing else.
// The kernel restores every register on sigreturn.
TEXT ·handler(SB),NOSPLIT|NOFRAME,$0
	MOVQ ·pipeFD(SB), DI
	LEAQ ·oneB(SB), SI
	MOVQ $1, DX
	MOVQ $1, AX // SYS_write
	SYSCALL
	RET

TEXT ·handlerAddr(SB),NOSPLIT,$0-8
	LEAQ ·handler(SB), AX
	MOVQ AX, ret+0(FP)
	RET
