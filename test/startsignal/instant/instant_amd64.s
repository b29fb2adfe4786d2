#include "textflag.h"

// The stack is as the kernel left it: argc at 0(SP), argv at 8(SP).
TEXT main·entry(SB),NOSPLIT|NOFRAME,$0
	MOVQ 0(SP), AX
	CMPQ AX, $3
	JLT  ready
	MOVQ 16(SP), SI            // argv[1] == "ns"
	CMPB 0(SI), $'n'
	JNE  ready
	CMPB 1(SI), $'s'
	JNE  ready
	CMPB 2(SI), $0
	JNE  ready

	MOVQ $165, AX              // mount(NULL, "/", NULL, MS_REC|MS_PRIVATE, NULL)
	XORQ DI, DI
	LEAQ root<>(SB), SI
	XORQ DX, DX
	MOVQ $0x44000, R10
	XORQ R8, R8
	SYSCALL
	TESTQ AX, AX
	JNE  fail
	MOVQ $165, AX              // mount("proc", "/proc", "proc", MS_NOSUID|MS_NODEV|MS_NOEXEC, NULL)
	LEAQ proc<>(SB), DI
	LEAQ procdir<>(SB), SI
	LEAQ proc<>(SB), DX
	MOVQ $14, R10
	XORQ R8, R8
	SYSCALL
	TESTQ AX, AX
	JNE  fail
	MOVQ 0(SP), CX             // execve(argv[2], &argv[2], envp)
	LEAQ 16(SP)(CX*8), DX
	LEAQ 24(SP), SI
	MOVQ 24(SP), DI
	MOVQ $59, AX
	SYSCALL
fail:
	MOVQ $120, DI
	MOVQ $231, AX              // exit_group(120)
	SYSCALL

ready:
	MOVQ $1, AX                // write(1, "ready\n", 6)
	MOVQ $1, DI
	LEAQ readymsg<>(SB), SI
	MOVQ $6, DX
	SYSCALL
wait:
	MOVQ $34, AX               // pause
	SYSCALL
	JMP  wait

DATA root<>+0(SB)/2, $"/\x00"
GLOBL root<>(SB), RODATA, $2
DATA proc<>+0(SB)/5, $"proc\x00"
GLOBL proc<>(SB), RODATA, $5
DATA procdir<>+0(SB)/6, $"/proc\x00"
GLOBL procdir<>(SB), RODATA, $6
DATA readymsg<>+0(SB)/6, $"ready\n"
GLOBL readymsg<>(SB), RODATA, $6
