// Internal declarations shared by the per-ISA kernel files and the dispatcher.
#ifndef CMUSEKERNELS_INTERNAL_H
#define CMUSEKERNELS_INTERNAL_H

#include "CMuseKernels.h"

typedef float (*muse_vec_dot_fn)(int64_t n, const void *w, const void *x);
/// y[t * ldy + r] = dot(W row r, X row t) for r in [r0, r1), t in [0, nx).
typedef void (*muse_matmul_fn)(int64_t n, const void *w, size_t w_row_bytes, int64_t r0, int64_t r1,
                               const void *x, size_t x_row_bytes, int64_t nx, float *y, int64_t ldy);
/// The same from packed weights (rows from r0, a multiple of 8).
typedef void (*muse_packed_fn)(int64_t n, const void *packed, int64_t r0, int64_t r1,
                               const void *x, size_t x_row_bytes, int64_t nx, float *y, int64_t ldy);

// One table per instruction-set path; a NULL entry falls back to the scalar one.
typedef struct {
    muse_vec_dot_fn dot_q4_0_q8_0;
    muse_vec_dot_fn dot_q4_1_q8_1;
    muse_vec_dot_fn dot_q8_0_q8_0;
    muse_vec_dot_fn dot_q5_0_q8_0;
    muse_vec_dot_fn dot_q5_1_q8_1;
    muse_vec_dot_fn dot_q2_K_q8_K;
    muse_vec_dot_fn dot_q3_K_q8_K;
    muse_vec_dot_fn dot_q4_K_q8_K;
    muse_vec_dot_fn dot_q5_K_q8_K;
    muse_vec_dot_fn dot_q6_K_q8_K;
    /// Multi-row matmuls (NULL: one dot per output).
    muse_matmul_fn matmul_q4_0;
    muse_matmul_fn matmul_q4_1;
    muse_matmul_fn matmul_q8_0;
    muse_matmul_fn matmul_q5_0;
    muse_matmul_fn matmul_q5_1;
    muse_matmul_fn matmul_q2_K;
    muse_matmul_fn matmul_q3_K;
    muse_matmul_fn matmul_q4_K;
    muse_matmul_fn matmul_q5_K;
    muse_matmul_fn matmul_q6_K;
    /// Q4_0 and Q5_0 in block order (see scalar.c), the default; the entries above keep ggml's.
    /// These matmuls take any number of activation rows, one included.
    muse_vec_dot_fn dot_q4_0_q8_0_blocks;
    muse_vec_dot_fn dot_q5_0_q8_0_blocks;
    muse_matmul_fn matmul_q4_0_blocks;
    muse_matmul_fn matmul_q5_0_blocks;
    /// Q8_0 and Q4_1 in block order (scalar only: the vector paths multiply them packed).
    muse_vec_dot_fn dot_q8_0_q8_0_blocks;
    muse_vec_dot_fn dot_q4_1_q8_1_blocks;
    /// Packed weights (see packed.c), any number of activation rows; NULL on the scalar path.
    muse_packed_fn matmul_q4_0_packed;
    muse_packed_fn matmul_q4_1_packed;
    muse_packed_fn matmul_q5_0_packed;
    muse_packed_fn matmul_q8_0_packed;
    muse_packed_fn matmul_q4_K_packed;
    muse_vec_dot_fn dot_f16_f16;
    muse_vec_dot_fn dot_f32_f32;
    /// BF16 weights times f32 activations.
    muse_vec_dot_fn dot_bf16_f32;
    void (*swiglu)(float *gate, const float *up, int64_t n);
    void (*geglu)(float *gate, const float *up, int64_t n);
    /// y = fp16(x * v + y), fused, for fp16 y and x.
    void (*mad_f16)(int64_t n, uint16_t *y, const uint16_t *x, float v);
    /// y = fp16(y * v).
    void (*scale_f16)(int64_t n, uint16_t *y, float v);
    /// fp16 to f32, exactly.
    void (*f16_to_f32)(const uint16_t *src, float *dst, int64_t n);
    /// f32 helpers of many-query attention: dot, y = y * s + sum_j p[j] * rows[j] (rows `stride` apart).
    float (*dot_f32)(int64_t n, const float *a, const float *b);
    /// out[j] = dot_f32(n, a, b + j * stride) for j < 4, with the same bits (NULL: four dot_f32).
    void (*dot4_f32)(int64_t n, const float *a, const float *b, size_t stride, float *out);
    void (*scale_add_rows_f32)(int64_t n, float *y, float s, const float *p, const float *rows, size_t stride, int64_t count);
    /// A fused one-query attention step for the sizes it handles (returns 0 for others, which then
    /// take the generic loop); bit-identical to the generic loop.
    int (*attention_step)(muse_attention_state *state, uint16_t *acc, const uint16_t *q16,
                          const uint16_t *k, size_t k_stride, const uint16_t *v, size_t v_stride,
                          int64_t count, int64_t dk, int64_t dv, float scale);
} muse_kernel_table;

#if defined(__x86_64__)
#include <immintrin.h>
/// ggml's exp on 8 lanes (avx2.c), for the other files' AVX2 code.
__attribute__((target("avx2,fma,f16c"))) __m256 muse_expf_ggml_avx2(__m256 x);
#endif

void muse_attention_step_generic(const muse_kernel_table *t, muse_attention_state *state, uint16_t *acc,
                                 const uint16_t *q16, const uint16_t *k, size_t k_stride,
                                 const uint16_t *v, size_t v_stride, int64_t count, int64_t dk, int64_t dv, float scale);

extern const muse_kernel_table muse_kernels_scalar;
#if defined(__x86_64__)
extern const muse_kernel_table muse_kernels_avx2;
extern const muse_kernel_table muse_kernels_avx_vnni;
extern const muse_kernel_table muse_kernels_avx512_vnni;
#endif

// fp16 -> fp32 for every half value; filled once at load time.
extern float muse_f16_table[1 << 16];

static inline float muse_h2f(uint16_t h) { return muse_f16_table[h]; }

/// bf16 -> f32: the 16 bits are the top half of the float, so the conversion is exact.
static inline float muse_bf16_to_f32(uint16_t h) {
    const uint32_t w = (uint32_t)h << 16;
    float f;
    __builtin_memcpy(&f, &w, 4);
    return f;
}

/// The 6-bit scale and min of sub-block j (0..7) of Q4_K and Q5_K, from their 12 packed bytes
/// (ggml's get_scale_min_k4): bytes 0-3 hold scales 0-3 and bytes 4-7 mins 0-3 in their low 6 bits;
/// scales and mins 4-7 take their low 4 bits from bytes 8-11 and their top 2 bits from the top
/// bits of bytes 0-3 and 4-7.
static inline void muse_k4_scale_min(int j, const uint8_t *q, uint8_t *scale, uint8_t *min) {
    if (j < 4) {
        *scale = q[j] & 63;
        *min = q[j + 4] & 63;
    } else {
        *scale = (uint8_t)((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4));
        *min = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/// The 16 scales of Q3_K, unbiased (-32..31): the low 4 bits of scale j are the low nibble of
/// byte j (j < 8) or the high nibble of byte j - 8; its top 2 bits are bits 2(j/4)..2(j/4)+1 of
/// byte 8 + j % 4.
static inline int muse_q3_K_scale(int j, const uint8_t *q) {
    const int low = j < 8 ? q[j] & 0x0F : q[j - 8] >> 4;
    const int high = (q[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (low | (high << 4)) - 32;
}

void muse_matmul_packed_scalar(int type, int64_t n, const void *packed, int64_t r0, int64_t r1,
                               const void *x, size_t x_row_bytes, int64_t nx, float *y, int64_t ldy);

void muse_swiglu_scalar(float *gate, const float *up, int64_t n);
void muse_geglu_scalar(float *gate, const float *up, int64_t n);

// GELU's constants: sqrt(2/pi) and the cubic term's coefficient.
#define MUSE_GELU_SCALE 0.79788456080286535588f
#define MUSE_GELU_COEF 0.044715f

#endif
