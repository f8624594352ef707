/* setjmp.S (x86_64) - setjmp/longjmp. The buffer holds the System V
 * callee-saved registers rbx rbp r12 r13 r14 r15, the stack pointer after
 * setjmp returns, and the return address (8 words). */
    .text
    .global setjmp, _setjmp, longjmp, _longjmp
    .type setjmp, @function
    .type _setjmp, @function
    .type longjmp, @function
    .type _longjmp, @function
setjmp:
_setjmp:
    mov %rbx, 0(%rdi)
    mov %rbp, 8(%rdi)
    mov %r12, 16(%rdi)
    mov %r13, 24(%rdi)
    mov %r14, 32(%rdi)
    mov %r15, 40(%rdi)
    lea 8(%rsp), %rdx          /* rsp as the caller will see it */
    mov %rdx, 48(%rdi)
    mov (%rsp), %rdx           /* where setjmp returns to */
    mov %rdx, 56(%rdi)
    xor %eax, %eax
    ret
    .size setjmp, . - setjmp

longjmp:
_longjmp:
    mov %esi, %eax
    test %eax, %eax            /* longjmp(env, 0) returns 1 */
    jnz 1f
    inc %eax
1:  mov 0(%rdi), %rbx
    mov 8(%rdi), %rbp
    mov 16(%rdi), %r12
    mov 24(%rdi), %r13
    mov 32(%rdi), %r14
    mov 40(%rdi), %r15
    mov 48(%rdi), %rsp
    jmp *56(%rdi)
    .size longjmp, . - longjmp
    .section .note.GNU-stack, "", @progbits
