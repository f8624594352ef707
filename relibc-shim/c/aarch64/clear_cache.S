/* clear_cache.S (aarch64) - __clear_cache(start, end), the compiler-rt
 * builtin clang calls for __builtin___clear_cache: makes instructions
 * written to [start, end) visible to instruction fetch. Cleans the data
 * cache to the point of unification line by line, then invalidates the
 * instruction cache, with the line sizes CTR_EL0 gives (the kernel lets
 * EL0 read it and maintain caches by address: SCTLR_EL1.UCT and UCI). */
    .text
    .global __clear_cache
    .type __clear_cache, %function
__clear_cache:
    mrs x3, ctr_el0
    mov x5, #4
    ubfx x4, x3, #16, #4        /* DminLine: log2 of words per D line */
    lsl x4, x5, x4
    sub x6, x4, #1
    bic x2, x0, x6
1:  cmp x2, x1
    b.hs 2f
    dc cvau, x2
    add x2, x2, x4
    b 1b
2:  dsb ish
    and x4, x3, #0xf            /* IminLine */
    lsl x4, x5, x4
    sub x6, x4, #1
    bic x2, x0, x6
3:  cmp x2, x1
    b.hs 4f
    ic ivau, x2
    add x2, x2, x4
    b 3b
4:  dsb ish
    isb
    ret
    .size __clear_cache, . - __clear_cache
