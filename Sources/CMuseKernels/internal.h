// Internal declarations shared by the per-ISA kernel files and the dispatcher.
#ifndef CMUSEKERNELS_INTERNAL_H
#define CMUSEKERNELS_INTERNAL_H

#include "CMuseKernels.h"

typedef float (*muse_vec_dot_fn)(int64_t n, const void *w, const void *x);
/// y[t * ldy + r] = dot(W row r, X row t) for r in [r0, r1), t in [0, nx).
typedef void (*muse_matmul_fn)(int64_t n, const void *w, size_t w_row_bytes, int64_t r0, int64_t r1,
                               const void *x, size_t x_row_bytes, int64_t nx, float *y, int64_t ldy);

// One table per instruction-set path; a NULL entry falls back to the scalar one.
typedef struct {
    muse_vec_dot_fn dot_q4_0_q8_0;
    muse_vec_dot_fn dot_q4_1_q8_1;
    muse_vec_dot_fn dot_q8_0_q8_0;
    /// Multi-row matmuls (NULL: one dot per output).
    muse_matmul_fn matmul_q4_0;
    muse_matmul_fn matmul_q4_1;
    muse_matmul_fn matmul_q8_0;
    muse_vec_dot_fn dot_f16_f16;
    muse_vec_dot_fn dot_f32_f32;
    void (*swiglu)(float *gate, const float *up, int64_t n);
    /// y = fp16(x * v + y), fused, for fp16 y and x.
    void (*mad_f16)(int64_t n, uint16_t *y, const uint16_t *x, float v);
    /// y = fp16(y * v).
    void (*scale_f16)(int64_t n, uint16_t *y, float v);
    /// f32 helpers of many-query attention: dot, y = y * s + sum_j p[j] * rows[j] (rows `stride` apart).
    float (*dot_f32)(int64_t n, const float *a, const float *b);
    void (*scale_add_rows_f32)(int64_t n, float *y, float s, const float *p, const float *rows, size_t stride, int64_t count);
    /// A fused one-query attention step for the sizes it handles (returns 0 for others, which then
    /// take the generic loop); bit-identical to the generic loop.
    int (*attention_step)(muse_attention_state *state, uint16_t *acc, const uint16_t *q16,
                          const uint16_t *k, size_t k_stride, const uint16_t *v, size_t v_stride,
                          int64_t count, int64_t dk, int64_t dv, float scale);
} muse_kernel_table;

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

void muse_swiglu_scalar(float *gate, const float *up, int64_t n);

#endif
