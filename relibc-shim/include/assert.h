/* assert.h - assert(); may be included more than once with NDEBUG changed. */
#undef assert
#ifdef NDEBUG
#define assert(expr) ((void)0)
#else
_Noreturn void __assert_fail(const char *expr, const char *file, int line, const char *func);
#define assert(expr) ((expr) ? (void)0 : __assert_fail(#expr, __FILE__, __LINE__, __func__))
#endif
#ifndef __cplusplus
#define static_assert _Static_assert
#endif
