/*
 * lr_cpu.h - runtime selection of the SIMD path.
 *
 * Hot kernels have a portable C variant and, on x86-64, an AVX2/FMA variant
 * compiled with a target attribute, so one binary runs on any x86-64 and the
 * core still builds on aarch64.  lr_simd_level() says which variant the kernels
 * use: the best the CPU supports, unless the environment variable
 * LUNARELAY_SIMD=portable forces the portable path.  The answer is computed on
 * first use and cached; it is the core's only process-wide state.
 */
#ifndef LR_CPU_H
#define LR_CPU_H

#include "lr_common.h"

/* LR_CDEF_BEGIN */
enum lr_simd {
    LR_SIMD_PORTABLE = 0,
    LR_SIMD_AVX2 = 1 /* x86-64 with AVX2, FMA, BMI2, PCLMULQDQ and SSE4.1 */
};

/* Best level this CPU supports, ignoring any override. */
int lr_simd_supported(void);

/* Level the kernels use now. */
int lr_simd_level(void);

/* Force a level (for tests that compare paths).  Returns LR_E_ARG if the CPU
 * lacks it; a negative level restores the automatic choice. */
int lr_simd_force(int level);
/* LR_CDEF_END */

#endif /* LR_CPU_H */
