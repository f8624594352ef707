/* crt0.S (aarch64) - the program entry. The kernel starts _start with sp
 * at argc (System V layout, 16-byte aligned). x29 = x30 = 0 end
 * frame-record walks. __libc_start_main (start.c) takes the original stack
 * pointer and never returns. */
    .text
    .global _start
    .type _start, %function
_start:
    mov x29, #0
    mov x30, #0
    mov x0, sp
    and x1, x0, #~15
    mov sp, x1
    bl __libc_start_main
    brk #0
    .size _start, . - _start
