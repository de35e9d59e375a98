#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "kernels.h"

#if defined(KVLM_X86)
#include <cpuid.h>

/* F16C from CPUID (leaf 1, ECX bit 29): clang before 15 does not know the
 * "f16c" name in __builtin_cpu_supports. */
__attribute__((unused)) static int cpu_has_f16c(void) {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
}

__attribute__((unused)) static int cpu_has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
}

__attribute__((unused)) static int cpu_has_avx512(void) {
    __builtin_cpu_init();
    return cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bf16");
}
#endif

static const kvlm_kernel_set *best_available(void) {
#if defined(KVLM_X86) && defined(KVLM_HAVE_AVX512_KERNELS)
    if (cpu_has_avx512()) return &kvlm_kernels_avx512;
#endif
#if defined(KVLM_X86) && defined(KVLM_HAVE_AVX2_KERNELS)
    if (cpu_has_avx2()) return &kvlm_kernels_avx2;
#endif
    return &kvlm_kernels_scalar;
}

const kvlm_kernel_set *kernels_select(kvlm_kernels which) {
    if (which == KVLM_KERNELS_AUTO) {
        const char *env = getenv("KVLM_KERNELS");
        if (env && *env) {
            if (!strcmp(env, "scalar")) which = KVLM_KERNELS_SCALAR;
            else if (!strcmp(env, "avx2")) which = KVLM_KERNELS_AVX2;
            else if (!strcmp(env, "avx512")) which = KVLM_KERNELS_AVX512;
            else if (strcmp(env, "auto") != 0) {
                kvlm_fail(KVLM_ERR_ARG, "KVLM_KERNELS=%s: expected scalar, avx2, avx512 or auto", env);
                return NULL;
            }
        }
    }
    switch (which) {
    case KVLM_KERNELS_AUTO: return best_available();
    case KVLM_KERNELS_SCALAR: return &kvlm_kernels_scalar;
    case KVLM_KERNELS_AVX2:
#if defined(KVLM_X86) && defined(KVLM_HAVE_AVX2_KERNELS)
        if (cpu_has_avx2()) return &kvlm_kernels_avx2;
#endif
        kvlm_fail(KVLM_ERR_UNSUPPORTED, "the AVX2 kernels need a CPU with AVX2, FMA and F16C (and an x86-64 build)");
        return NULL;
    case KVLM_KERNELS_AVX512:
#if defined(KVLM_X86) && defined(KVLM_HAVE_AVX512_KERNELS)
        if (cpu_has_avx512()) return &kvlm_kernels_avx512;
#endif
        kvlm_fail(KVLM_ERR_UNSUPPORTED,
                  "the AVX-512 kernels need a CPU with AVX-512 F/BW/VL/DQ, VNNI and BF16 (and an x86-64 build)");
        return NULL;
    }
    kvlm_fail(KVLM_ERR_ARG, "unknown kernel set %d", (int)which);
    return NULL;
}
