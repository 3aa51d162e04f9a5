// Run-time choice of the instruction-set path, and the dispatched entry points.
#include "internal.h"
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#if defined(__x86_64__)
static int os_saves_ymm(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    if (!(ecx & (1u << 27))) return 0; // OSXSAVE
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 0x6) == 0x6; // XMM and YMM state enabled
}

static int cpu_has_avx2(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!os_saves_ymm()) return 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    const int fma = (ecx >> 12) & 1, f16c = (ecx >> 29) & 1;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    return fma && f16c && ((ebx >> 5) & 1);
}

static int cpu_has_avx_vnni(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!cpu_has_avx2()) return 0;
    if (!__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) return 0;
    return (eax >> 4) & 1;
}

// AVX512F, BW and VL (for 256-bit EVEX forms) and AVX512-VNNI, with the OS saving the opmask and
// upper ZMM state, which EVEX instructions need even at 256 bits.
static int cpu_has_avx512_vnni(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!cpu_has_avx2()) return 0;
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xE6) != 0xE6) return 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    const int f = (ebx >> 16) & 1, bw = (ebx >> 30) & 1, vl = (ebx >> 31) & 1, vnni = (ecx >> 11) & 1;
    return f && bw && vl && vnni;
}
#endif

int muse_cpu_supports(muse_kernel_path path) {
    switch (path) {
    case MUSE_PATH_SCALAR: return 1;
#if defined(__x86_64__)
    case MUSE_PATH_AVX2: return cpu_has_avx2();
    case MUSE_PATH_AVX_VNNI: return cpu_has_avx_vnni();
    case MUSE_PATH_AVX512_VNNI: return cpu_has_avx512_vnni();
#endif
    default: return 0;
    }
}

static const muse_kernel_table *active_table = 0;
static muse_kernel_path active_path = MUSE_PATH_SCALAR;

static const muse_kernel_table *table_for(muse_kernel_path path) {
    switch (path) {
#if defined(__x86_64__)
    case MUSE_PATH_AVX2: return &muse_kernels_avx2;
    case MUSE_PATH_AVX_VNNI: return &muse_kernels_avx_vnni;
    case MUSE_PATH_AVX512_VNNI: return &muse_kernels_avx512_vnni;
#endif
    default: return &muse_kernels_scalar;
    }
}

int muse_kernels_select(muse_kernel_path path) {
    if (!muse_cpu_supports(path)) return -1;
    active_path = path;
    __atomic_store_n(&active_table, table_for(path), __ATOMIC_RELEASE);
    return 0;
}

static const muse_kernel_table *kernels(void) {
    const muse_kernel_table *t = __atomic_load_n(&active_table, __ATOMIC_ACQUIRE);
    if (t) return t;
    // The fastest path this CPU has.
    muse_kernels_select(muse_cpu_supports(MUSE_PATH_AVX_VNNI) ? MUSE_PATH_AVX_VNNI
                        : muse_cpu_supports(MUSE_PATH_AVX512_VNNI) ? MUSE_PATH_AVX512_VNNI
                        : muse_cpu_supports(MUSE_PATH_AVX2) ? MUSE_PATH_AVX2 : MUSE_PATH_SCALAR);
    return __atomic_load_n(&active_table, __ATOMIC_ACQUIRE);
}

const muse_kernel_table *muse_kernels_current(void) { return kernels(); }

muse_kernel_path muse_kernels_active(void) {
    (void)kernels();
    return active_path;
}

static int ggml_order = 0;

void muse_kernels_set_order(muse_kernel_order order) {
    __atomic_store_n(&ggml_order, order == MUSE_ORDER_GGML, __ATOMIC_RELEASE);
}

muse_kernel_order muse_kernels_order(void) {
    return __atomic_load_n(&ggml_order, __ATOMIC_ACQUIRE) ? MUSE_ORDER_GGML : MUSE_ORDER_BLOCKS;
}

static muse_vec_dot_fn path_dot_for(const muse_kernel_table *t, muse_kernel_order order, int weight_type) {
    if (order == MUSE_ORDER_BLOCKS) {
        if (weight_type == MUSE_TYPE_Q4_0) return t->dot_q4_0_q8_0_blocks;
        if (weight_type == MUSE_TYPE_Q5_0) return t->dot_q5_0_q8_0_blocks;
        if (weight_type == MUSE_TYPE_Q8_0) return t->dot_q8_0_q8_0_blocks;
        if (weight_type == MUSE_TYPE_Q4_1) return t->dot_q4_1_q8_1_blocks;
    }
    switch (weight_type) {
    case MUSE_TYPE_Q4_0: return t->dot_q4_0_q8_0;
    case MUSE_TYPE_Q4_1: return t->dot_q4_1_q8_1;
    case MUSE_TYPE_Q8_0: return t->dot_q8_0_q8_0;
    case MUSE_TYPE_Q5_0: return t->dot_q5_0_q8_0;
    case MUSE_TYPE_Q5_1: return t->dot_q5_1_q8_1;
    case MUSE_TYPE_Q2_K: return t->dot_q2_K_q8_K;
    case MUSE_TYPE_Q3_K: return t->dot_q3_K_q8_K;
    case MUSE_TYPE_Q4_K: return t->dot_q4_K_q8_K;
    case MUSE_TYPE_Q5_K: return t->dot_q5_K_q8_K;
    case MUSE_TYPE_Q6_K: return t->dot_q6_K_q8_K;
    case MUSE_TYPE_F16: return t->dot_f16_f16;
    case MUSE_TYPE_F32: return t->dot_f32_f32;
    case MUSE_TYPE_BF16: return t->dot_bf16_f32;
    default: return 0;
    }
}

// The path's dot, or the scalar one where the path has none.
static muse_vec_dot_fn dot_for(const muse_kernel_table *t, muse_kernel_order order, int weight_type) {
    const muse_vec_dot_fn f = path_dot_for(t, order, weight_type);
    return f ? f : path_dot_for(&muse_kernels_scalar, order, weight_type);
}

// The matmul for nx activation rows, if the path has one: the block-order kernels take any number,
// the others several (a single row goes dot by dot).
static muse_matmul_fn matmul_for(const muse_kernel_table *t, muse_kernel_order order, int weight_type, int64_t nx) {
    if (order == MUSE_ORDER_BLOCKS) {
        if (weight_type == MUSE_TYPE_Q4_0) return t->matmul_q4_0_blocks;
        if (weight_type == MUSE_TYPE_Q5_0) return t->matmul_q5_0_blocks;
        // Unpacked Q8_0 and Q4_1 in block order go dot by dot (models multiply them packed).
        if (weight_type == MUSE_TYPE_Q8_0 || weight_type == MUSE_TYPE_Q4_1) return 0;
    }
    if (nx < 2) return 0;
    switch (weight_type) {
    case MUSE_TYPE_Q4_0: return t->matmul_q4_0;
    case MUSE_TYPE_Q4_1: return t->matmul_q4_1;
    case MUSE_TYPE_Q8_0: return t->matmul_q8_0;
    case MUSE_TYPE_Q5_0: return t->matmul_q5_0;
    case MUSE_TYPE_Q5_1: return t->matmul_q5_1;
    case MUSE_TYPE_Q2_K: return t->matmul_q2_K;
    case MUSE_TYPE_Q3_K: return t->matmul_q3_K;
    case MUSE_TYPE_Q4_K: return t->matmul_q4_K;
    case MUSE_TYPE_Q5_K: return t->matmul_q5_K;
    case MUSE_TYPE_Q6_K: return t->matmul_q6_K;
    default: return 0;
    }
}

float muse_vec_dot_in_order(muse_kernel_order order, int weight_type, int64_t n, const void *w, const void *x) {
    const muse_vec_dot_fn f = dot_for(kernels(), order, weight_type);
    return f ? f(n, w, x) : 0.0f;
}

float muse_vec_dot_reference_in_order(muse_kernel_order order, int weight_type, int64_t n, const void *w, const void *x) {
    const muse_vec_dot_fn f = dot_for(&muse_kernels_scalar, order, weight_type);
    return f ? f(n, w, x) : 0.0f;
}

float muse_vec_dot(int weight_type, int64_t n, const void *w, const void *x) {
    return muse_vec_dot_in_order(muse_kernels_order(), weight_type, n, w, x);
}

float muse_vec_dot_reference(int weight_type, int64_t n, const void *w, const void *x) {
    return muse_vec_dot_reference_in_order(muse_kernels_order(), weight_type, n, w, x);
}

void muse_matmul_in_order(muse_kernel_order order, int weight_type, int64_t n,
                          const void *w, size_t w_row_bytes, int64_t r0, int64_t r1,
                          const void *x, size_t x_row_bytes, int64_t nx,
                          float *y, int64_t ldy) {
    const muse_kernel_table *table = kernels();
    const muse_matmul_fn m = matmul_for(table, order, weight_type, nx);
    if (m) {
        m(n, w, w_row_bytes, r0, r1, x, x_row_bytes, nx, y, ldy);
        return;
    }
    const muse_vec_dot_fn f = dot_for(table, order, weight_type);
    if (!f) return;
    // Each weight row is read once from memory and reused, from L1, for every activation row.
    for (int64_t r = r0; r < r1; r++) {
        const char *wr = (const char *)w + (size_t)r * w_row_bytes;
        for (int64_t t = 0; t < nx; t++) {
            y[t * ldy + r] = f(n, wr, (const char *)x + (size_t)t * x_row_bytes);
        }
    }
}

void muse_matmul(int weight_type, int64_t n,
                 const void *w, size_t w_row_bytes, int64_t r0, int64_t r1,
                 const void *x, size_t x_row_bytes, int64_t nx,
                 float *y, int64_t ldy) {
    muse_matmul_in_order(muse_kernels_order(), weight_type, n, w, w_row_bytes, r0, r1, x, x_row_bytes, nx, y, ldy);
}

static muse_packed_fn packed_for(const muse_kernel_table *t, int weight_type) {
    switch (weight_type) {
    case MUSE_TYPE_Q4_0: return t->matmul_q4_0_packed;
    case MUSE_TYPE_Q4_1: return t->matmul_q4_1_packed;
    case MUSE_TYPE_Q5_0: return t->matmul_q5_0_packed;
    case MUSE_TYPE_Q8_0: return t->matmul_q8_0_packed;
    case MUSE_TYPE_Q4_K: return t->matmul_q4_K_packed;
    default: return 0;
    }
}

void muse_matmul_packed(int weight_type, int64_t n, const void *packed, int64_t r0, int64_t r1,
                        const void *x, size_t x_row_bytes, int64_t nx, float *y, int64_t ldy) {
    const muse_packed_fn m = packed_for(kernels(), weight_type);
    if (m) {
        m(n, packed, r0, r1, x, x_row_bytes, nx, y, ldy);
    } else {
        muse_matmul_packed_scalar(weight_type, n, packed, r0, r1, x, x_row_bytes, nx, y, ldy);
    }
}

void muse_matmul_packed_reference(int weight_type, int64_t n, const void *packed, int64_t r0, int64_t r1,
                                  const void *x, size_t x_row_bytes, int64_t nx, float *y, int64_t ldy) {
    muse_matmul_packed_scalar(weight_type, n, packed, r0, r1, x, x_row_bytes, nx, y, ldy);
}

void muse_f16_to_f32_row(const uint16_t *src, float *dst, int64_t n) {
    kernels()->f16_to_f32(src, dst, n);
}

void muse_swiglu(float *gate, const float *up, int64_t n) {
    kernels()->swiglu(gate, up, n);
}

void muse_swiglu_reference(float *gate, const float *up, int64_t n) {
    muse_swiglu_scalar(gate, up, n);
}

void muse_geglu(float *gate, const float *up, int64_t n) {
    kernels()->geglu(gate, up, n);
}

void muse_geglu_reference(float *gate, const float *up, int64_t n) {
    muse_geglu_scalar(gate, up, n);
}
