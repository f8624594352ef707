/* setjmp.h - non-local jumps. The buffer holds the callee-saved registers,
 * the stack pointer and the return address: x86_64 rbx rbp r12-r15 rsp rip
 * (8 words); aarch64 x19-x30, sp, d8-d15 (21 words). Implemented in
 * assembly per arch (relibc-shim/c/<arch>/setjmp.S). No signal masks exist,
 * so sigsetjmp/siglongjmp are the same calls. */
#ifndef _TESSERA_SETJMP_H
#define _TESSERA_SETJMP_H

typedef unsigned long jmp_buf[22];
typedef unsigned long sigjmp_buf[22];

int setjmp(jmp_buf env) __attribute__((returns_twice));
_Noreturn void longjmp(jmp_buf env, int val);
int _setjmp(jmp_buf env) __attribute__((returns_twice));
_Noreturn void _longjmp(jmp_buf env, int val);
#define sigsetjmp(env, savemask) setjmp(env)
#define siglongjmp(env, val) longjmp(env, val)

#endif
