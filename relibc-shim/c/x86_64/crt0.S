/* crt0.S (x86_64) - the program entry. The kernel starts _start with rsp
 * at argc (System V layout) and every other register zero; rbp = 0 ends
 * frame-pointer walks. __libc_start_main (start.c) takes the original
 * stack pointer and never returns. */
    .text
    .global _start
    .type _start, @function
_start:
    xor %ebp, %ebp
    mov %rsp, %rdi
    and $-16, %rsp
    call __libc_start_main
    ud2
    .size _start, . - _start
    .section .note.GNU-stack, "", @progbits
