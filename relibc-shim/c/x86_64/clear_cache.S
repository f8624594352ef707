/* clear_cache.S (x86_64) - __clear_cache(start, end), the compiler-rt
 * builtin: x86 keeps instruction fetch coherent with stores, so there is
 * nothing to do (compiler-rt's is empty too); here so that code calling it
 * links on both arches. */
    .text
    .global __clear_cache
    .type __clear_cache, @function
__clear_cache:
    ret
    .size __clear_cache, . - __clear_cache
