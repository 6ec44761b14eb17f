/*
 * lr_common.h - conventions shared by every module of the lunarelay C core.
 *
 * Every public function takes its state and buffers from the caller, never
 * allocates, never prints and keeps no hidden state.  A function that produces
 * output returns the number of items written (>= 0) or one of the negative
 * LR_E_* codes below.  The Python binding turns a negative code into
 * onboard.core.CoreError carrying the same code.
 *
 * Each module header carries a block between LR_CDEF_BEGIN and LR_CDEF_END
 * markers: plain declarations (no preprocessor lines) that the cffi build reads
 * verbatim, so adding a module never means editing the binding.
 */
#ifndef LR_COMMON_H
#define LR_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* LR_CDEF_BEGIN */
enum lr_status {
    LR_OK = 0,
    LR_E_ARG = -1,           /* an argument is out of its documented range */
    LR_E_SPACE = -2,         /* the output buffer is too small */
    LR_E_FORMAT = -3,        /* the input is malformed */
    LR_E_UNCORRECTABLE = -4, /* a decoder found more errors than it can correct */
    LR_E_CHECK = -5,         /* a CRC or other check field does not match */
    LR_E_STATE = -6          /* the call is not valid in the object's current state */
};
/* LR_CDEF_END */

#if defined(__GNUC__)
#define LR_LIKELY(x) __builtin_expect(!!(x), 1)
#define LR_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define LR_LIKELY(x) (x)
#define LR_UNLIKELY(x) (x)
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#define LR_HAVE_X86_DISPATCH 1
#define LR_TARGET_AVX2 __attribute__((target("avx2,fma,bmi2,pclmul,sse4.1")))
#else
#define LR_HAVE_X86_DISPATCH 0
#endif

#endif /* LR_COMMON_H */
