/* lr_cpu.c - runtime SIMD dispatch; see lr_cpu.h. */
#include "lr_cpu.h"

#include <stdlib.h>
#include <string.h>

/* -1: not decided yet.  Reads and writes are of a plain int; a race between
 * two first callers computes the same answer twice. */
static int simd_level_cached = -1;

int lr_simd_supported(void)
{
#if LR_HAVE_X86_DISPATCH
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("pclmul") &&
        __builtin_cpu_supports("sse4.1"))
        return LR_SIMD_AVX2;
#endif
    return LR_SIMD_PORTABLE;
}

int lr_simd_level(void)
{
    int level = simd_level_cached;
    if (LR_LIKELY(level >= 0))
        return level;
    const char *env = getenv("LUNARELAY_SIMD");
    if (env != NULL && strcmp(env, "portable") == 0)
        level = LR_SIMD_PORTABLE;
    else
        level = lr_simd_supported();
    simd_level_cached = level;
    return level;
}

int lr_simd_force(int level)
{
    if (level < 0) {
        simd_level_cached = -1;
        return LR_OK;
    }
    if (level > lr_simd_supported())
        return LR_E_ARG;
    simd_level_cached = level;
    return LR_OK;
}
