// Reference dot products: the plain math every faster path is tested against.
#include <math.h>
#include "internal.h"

// ggml's order (the Q4_1, Q5_1 and Q8_0 dots, and Q4_0 and Q5_0 under MUSE_ORDER_GGML): each
// block's 32 products are summed exactly as integers in 8 groups of 4 consecutive elements, each
// group scaled into its own float accumulator with a fused multiply-add, and the 8 accumulators
// reduced pairwise at the end. Same order, same bits: every path gives identical results.

// (a[4..7] + a[0..3]), then lanes 0+2 and 1+3, then the two: an 8-lane horizontal sum.
static float hsum8(const float a[8]) {
    float r[4];
    for (int i = 0; i < 4; i++) r[i] = a[i + 4] + a[i];
    return (r[0] + r[2]) + (r[1] + r[3]);
}

// Element e of a Q4 block: the low nibble of byte e for e < 16, the high nibble of byte e - 16.
static inline int nibble(const uint8_t *qs, int e) {
    return e < MUSE_QK / 2 ? qs[e] & 0x0F : qs[e - MUSE_QK / 2] >> 4;
}

static float dot_q4_0_q8_0(int64_t n, const void *w, const void *x) {
    const muse_block_q4_0 *a = w;
    const muse_block_q8_0 *b = x;
    float acc[8] = {0};
    for (int64_t i = 0; i < n / MUSE_QK; i++) {
        const float d = muse_h2f(a[i].d) * muse_h2f(b[i].d);
        for (int l = 0; l < 8; l++) {
            int sum = 0;
            for (int e = 4 * l; e < 4 * l + 4; e++) sum += (nibble(a[i].qs, e) - 8) * b[i].qs[e];
            acc[l] = fmaf(d, (float)sum, acc[l]);
        }
    }
    return hsum8(acc);
}

// Q4_1 . Q8_1 = sum over blocks of dw*dx*sum(q*qx) + m*sx, since sum((dw*q + m) * dx*qx) splits so.
static float dot_q4_1_q8_1(int64_t n, const void *w, const void *x) {
    const muse_block_q4_1 *a = w;
    const muse_block_q8_1 *b = x;
    float acc[8] = {0};
    float offsets = 0.0f;
    for (int64_t i = 0; i < n / MUSE_QK; i++) {
        offsets = fmaf(muse_h2f(a[i].m), muse_h2f(b[i].s), offsets);
        const float d = muse_h2f(a[i].d) * muse_h2f(b[i].d);
        for (int l = 0; l < 8; l++) {
            int sum = 0;
            for (int e = 4 * l; e < 4 * l + 4; e++) sum += nibble(a[i].qs, e) * b[i].qs[e];
            acc[l] = fmaf(d, (float)sum, acc[l]);
        }
    }
    return hsum8(acc) + offsets;
}

static float dot_q8_0_q8_0(int64_t n, const void *w, const void *x) {
    const muse_block_q8_0 *a = w;
    const muse_block_q8_0 *b = x;
    float acc[8] = {0};
    for (int64_t i = 0; i < n / MUSE_QK; i++) {
        const float d = muse_h2f(a[i].d) * muse_h2f(b[i].d);
        for (int l = 0; l < 8; l++) {
            int sum = 0;
            for (int e = 4 * l; e < 4 * l + 4; e++) sum += a[i].qs[e] * b[i].qs[e];
            acc[l] = fmaf(d, (float)sum, acc[l]);
        }
    }
    return hsum8(acc);
}

// Q5_0 . Q8_0 in Q4_0's order: 5-bit quants minus 16.
static inline int q5_value(const uint8_t *qs, const uint8_t *qh, int e) {
    return nibble(qs, e) | (((qh[e / 8] >> (e % 8)) & 1) << 4);
}

static float dot_q5_0_q8_0(int64_t n, const void *w, const void *x) {
    const muse_block_q5_0 *a = w;
    const muse_block_q8_0 *b = x;
    float acc[8] = {0};
    for (int64_t i = 0; i < n / MUSE_QK; i++) {
        const float d = muse_h2f(a[i].d) * muse_h2f(b[i].d);
        for (int l = 0; l < 8; l++) {
            int sum = 0;
            for (int e = 4 * l; e < 4 * l + 4; e++) sum += (q5_value(a[i].qs, a[i].qh, e) - 16) * b[i].qs[e];
            acc[l] = fmaf(d, (float)sum, acc[l]);
        }
    }
    return hsum8(acc);
}

// Q5_1 . Q8_1 in Q4_1's order.
static float dot_q5_1_q8_1(int64_t n, const void *w, const void *x) {
    const muse_block_q5_1 *a = w;
    const muse_block_q8_1 *b = x;
    float acc[8] = {0};
    float offsets = 0.0f;
    for (int64_t i = 0; i < n / MUSE_QK; i++) {
        offsets = fmaf(muse_h2f(a[i].m), muse_h2f(b[i].s), offsets);
        const float d = muse_h2f(a[i].d) * muse_h2f(b[i].d);
        for (int l = 0; l < 8; l++) {
            int sum = 0;
            for (int e = 4 * l; e < 4 * l + 4; e++) sum += q5_value(a[i].qs, a[i].qh, e) * b[i].qs[e];
            acc[l] = fmaf(d, (float)sum, acc[l]);
        }
    }
    return hsum8(acc) + offsets;
}

// Q4_0, Q5_0, Q8_0 and Q4_1 in block order (the default order; the ones above are ggml's): each
// block's 32 products summed exactly as one integer, then acc = fma(dw * dx, sum, acc), block after
// block.
// Lane layouts do not enter, so a vector path can reduce a block's integer however it likes.
static float dot_q4_0_q8_0_blocks(int64_t n, const void *w, const void *x) {
    const muse_block_q4_0 *a = w;
    const muse_block_q8_0 *b = x;
    float acc = 0.0f;
    for (int64_t i = 0; i < n / MUSE_QK; i++) {
        int sum = 0;
        for (int e = 0; e < MUSE_QK; e++) sum += (nibble(a[i].qs, e) - 8) * b[i].qs[e];
        acc = fmaf(muse_h2f(a[i].d) * muse_h2f(b[i].d), (float)sum, acc);
    }
    return acc;
}

static float dot_q5_0_q8_0_blocks(int64_t n, const void *w, const void *x) {
    const muse_block_q5_0 *a = w;
    const muse_block_q8_0 *b = x;
    float acc = 0.0f;
    for (int64_t i = 0; i < n / MUSE_QK; i++) {
        int sum = 0;
        for (int e = 0; e < MUSE_QK; e++) sum += (q5_value(a[i].qs, a[i].qh, e) - 16) * b[i].qs[e];
        acc = fmaf(muse_h2f(a[i].d) * muse_h2f(b[i].d), (float)sum, acc);
    }
    return acc;
}

// Q8_0 in block order, as Q4_0's.
static float dot_q8_0_q8_0_blocks(int64_t n, const void *w, const void *x) {
    const muse_block_q8_0 *a = w;
    const muse_block_q8_0 *b = x;
    float acc = 0.0f;
    for (int64_t i = 0; i < n / MUSE_QK; i++) {
        int sum = 0;
        for (int e = 0; e < MUSE_QK; e++) sum += a[i].qs[e] * b[i].qs[e];
        acc = fmaf(muse_h2f(a[i].d) * muse_h2f(b[i].d), (float)sum, acc);
    }
    return acc;
}

// Q4_1 in block order: the scaled integers in one chain, the offsets m * s in a second (as in
// ggml's order), the two added at the end.
static float dot_q4_1_q8_1_blocks(int64_t n, const void *w, const void *x) {
    const muse_block_q4_1 *a = w;
    const muse_block_q8_1 *b = x;
    float acc = 0.0f, offsets = 0.0f;
    for (int64_t i = 0; i < n / MUSE_QK; i++) {
        int sum = 0;
        for (int e = 0; e < MUSE_QK; e++) sum += nibble(a[i].qs, e) * b[i].qs[e];
        acc = fmaf(muse_h2f(a[i].d) * muse_h2f(b[i].d), (float)sum, acc);
        offsets = fmaf(muse_h2f(a[i].m), muse_h2f(b[i].s), offsets);
    }
    return acc + offsets;
}

// K-quant dots. Within a superblock everything is integer: the sub-block scales times the
// sub-block dots, summed exactly (at most about 2^28 in magnitude), so no path depends on a lane
// layout. Each superblock then adds d * sum into one float accumulator and, for the types with
// mins, dmin * sum(min * q8) into a second, with one fused multiply-add each; the result is the
// first minus the second. The vector paths do exactly this, so they give the same bits.
// d = fp16 d * Q8_K's f32 d (and dmin likewise).

// The 2-bit field of element e (0..255) of Q2_K and Q3_K quants (layout in CMuseKernels.h).
static inline int q2_field(const uint8_t *qs, int e) {
    const int h = e / 128, k = (e % 128) / 32, l = e % 32;
    return (qs[32 * h + l] >> (2 * k)) & 3;
}

static float dot_q2_K_q8_K(int64_t n, const void *w, const void *x) {
    const muse_block_q2_K *a = w;
    const muse_block_q8_K *b = x;
    float acc = 0.0f, acc_min = 0.0f;
    for (int64_t i = 0; i < n / MUSE_QK_K; i++) {
        int32_t sum = 0, sum_min = 0;
        for (int j = 0; j < 16; j++) {
            int dot = 0, q8 = 0;
            for (int e = 16 * j; e < 16 * j + 16; e++) {
                dot += q2_field(a[i].qs, e) * b[i].qs[e];
                q8 += b[i].qs[e];
            }
            sum += (a[i].scales[j] & 0x0F) * dot;
            sum_min += (a[i].scales[j] >> 4) * q8;
        }
        acc = fmaf(muse_h2f(a[i].d) * b[i].d, (float)sum, acc);
        acc_min = fmaf(muse_h2f(a[i].dmin) * b[i].d, (float)sum_min, acc_min);
    }
    return acc - acc_min;
}

static float dot_q3_K_q8_K(int64_t n, const void *w, const void *x) {
    const muse_block_q3_K *a = w;
    const muse_block_q8_K *b = x;
    float acc = 0.0f;
    for (int64_t i = 0; i < n / MUSE_QK_K; i++) {
        int32_t sum = 0;
        for (int j = 0; j < 16; j++) {
            int dot = 0;
            for (int e = 16 * j; e < 16 * j + 16; e++) {
                const int high = (a[i].hmask[e % 32] >> (e / 32)) & 1;
                dot += (q2_field(a[i].qs, e) - (high ? 0 : 4)) * b[i].qs[e];
            }
            sum += muse_q3_K_scale(j, a[i].scales) * dot;
        }
        acc = fmaf(muse_h2f(a[i].d) * b[i].d, (float)sum, acc);
    }
    return acc;
}

// Q4_K and Q5_K: sub-block j (32 elements) is the low (j even) or high nibbles of qs[32(j/2)..];
// Q5_K's fifth bit of element 32j + l is bit j of qh[l] (qh NULL for Q4_K). Sets the superblock's
// scaled sum and min sum.
static inline void k4_k5_sums(const uint8_t *scales, const uint8_t *qs, const uint8_t *qh, const int8_t *q8,
                              int32_t *sum, int32_t *sum_min) {
    *sum = 0;
    *sum_min = 0;
    for (int j = 0; j < 8; j++) {
        uint8_t scale, min;
        muse_k4_scale_min(j, scales, &scale, &min);
        int dot = 0, q8sum = 0;
        for (int l = 0; l < 32; l++) {
            const uint8_t byte = qs[32 * (j / 2) + l];
            const int v = (j % 2 ? byte >> 4 : byte & 0x0F) | (qh ? ((qh[l] >> j) & 1) << 4 : 0);
            dot += v * q8[32 * j + l];
            q8sum += q8[32 * j + l];
        }
        *sum += scale * dot;
        *sum_min += min * q8sum;
    }
}

static float dot_q4_K_q8_K(int64_t n, const void *w, const void *x) {
    const muse_block_q4_K *a = w;
    const muse_block_q8_K *b = x;
    float acc = 0.0f, acc_min = 0.0f;
    for (int64_t i = 0; i < n / MUSE_QK_K; i++) {
        int32_t sum, sum_min;
        k4_k5_sums(a[i].scales, a[i].qs, 0, b[i].qs, &sum, &sum_min);
        acc = fmaf(muse_h2f(a[i].d) * b[i].d, (float)sum, acc);
        acc_min = fmaf(muse_h2f(a[i].dmin) * b[i].d, (float)sum_min, acc_min);
    }
    return acc - acc_min;
}

static float dot_q5_K_q8_K(int64_t n, const void *w, const void *x) {
    const muse_block_q5_K *a = w;
    const muse_block_q8_K *b = x;
    float acc = 0.0f, acc_min = 0.0f;
    for (int64_t i = 0; i < n / MUSE_QK_K; i++) {
        int32_t sum, sum_min;
        k4_k5_sums(a[i].scales, a[i].qs, a[i].qh, b[i].qs, &sum, &sum_min);
        acc = fmaf(muse_h2f(a[i].d) * b[i].d, (float)sum, acc);
        acc_min = fmaf(muse_h2f(a[i].dmin) * b[i].d, (float)sum_min, acc_min);
    }
    return acc - acc_min;
}

// Q6_K: 6-bit quants minus 32 (layout in CMuseKernels.h).
static float dot_q6_K_q8_K(int64_t n, const void *w, const void *x) {
    const muse_block_q6_K *a = w;
    const muse_block_q8_K *b = x;
    float acc = 0.0f;
    for (int64_t i = 0; i < n / MUSE_QK_K; i++) {
        int32_t sum = 0;
        for (int j = 0; j < 16; j++) {
            int dot = 0;
            for (int e = 16 * j; e < 16 * j + 16; e++) {
                const int h = e / 128, k = (e % 128) / 32, l = e % 32;
                const uint8_t low = a[i].ql[64 * h + l + 32 * (k & 1)];
                const int v = (k < 2 ? low & 0x0F : low >> 4) | (((a[i].qh[32 * h + l] >> (2 * k)) & 3) << 4);
                dot += (v - 32) * b[i].qs[e];
            }
            sum += a[i].scales[j] * dot;
        }
        acc = fmaf(muse_h2f(a[i].d) * b[i].d, (float)sum, acc);
    }
    return acc;
}

// Float dots use ggml's summation order on 512-bit vectors: 64 fused accumulators (four vectors
// of 16 lanes), reduced pairwise as GGML_F32x16_REDUCE and _mm512_reduce_add_ps do, the tail added
// in double. Keeping the order makes results bit-identical to llama.cpp's.
static float reduce64(const float acc[64]) {
    float t[16], u[8], v[4];
    for (int l = 0; l < 16; l++) t[l] = (acc[l] + acc[l + 32]) + (acc[l + 16] + acc[l + 48]);
    for (int l = 0; l < 8; l++) u[l] = t[l + 8] + t[l];
    for (int l = 0; l < 4; l++) v[l] = u[l + 4] + u[l];
    return (v[0] + v[2]) + (v[1] + v[3]);
}

static float dot_f16_f16(int64_t n, const void *w, const void *x) {
    const uint16_t *a = w, *b = x;
    const int64_t np = n & ~(int64_t)63;
    float acc[64] = {0};
    for (int64_t i = 0; i < np; i += 64) {
        for (int l = 0; l < 64; l++) acc[l] = fmaf(muse_h2f(a[i + l]), muse_h2f(b[i + l]), acc[l]);
    }
    double sum = (double)reduce64(acc);
    for (int64_t i = np; i < n; i++) sum += (double)(muse_h2f(a[i]) * muse_h2f(b[i]));
    return (float)sum;
}

static float dot_f32_f32(int64_t n, const void *w, const void *x) {
    const float *a = w, *b = x;
    const int64_t np = n & ~(int64_t)63;
    float acc[64] = {0};
    for (int64_t i = 0; i < np; i += 64) {
        for (int l = 0; l < 64; l++) acc[l] = fmaf(a[i + l], b[i + l], acc[l]);
    }
    double sum = (double)reduce64(acc);
    for (int64_t i = np; i < n; i++) sum += (double)(a[i] * b[i]);
    return (float)sum;
}

// BF16 weights widen exactly to f32; then the f32 dot's order.
static float dot_bf16_f32(int64_t n, const void *w, const void *x) {
    const uint16_t *a = w;
    const float *b = x;
    const int64_t np = n & ~(int64_t)63;
    float acc[64] = {0};
    for (int64_t i = 0; i < np; i += 64) {
        for (int l = 0; l < 64; l++) acc[l] = fmaf(muse_bf16_to_f32(a[i + l]), b[i + l], acc[l]);
    }
    double sum = (double)reduce64(acc);
    for (int64_t i = np; i < n; i++) sum += (double)(muse_bf16_to_f32(a[i]) * b[i]);
    return (float)sum;
}

static void mad_f16(int64_t n, uint16_t *y, const uint16_t *x, float v) {
    for (int64_t i = 0; i < n; i++) y[i] = muse_f32_to_f16(fmaf(muse_h2f(x[i]), v, muse_h2f(y[i])));
}

static void scale_f16(int64_t n, uint16_t *y, float v) {
    for (int64_t i = 0; i < n; i++) y[i] = muse_f32_to_f16(muse_h2f(y[i]) * v);
}

static float dot_f32(int64_t n, const float *a, const float *b) {
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) sum = fmaf(a[i], b[i], sum);
    return sum;
}

static void scale_add_rows_f32(int64_t n, float *y, float s, const float *p, const float *rows, size_t stride, int64_t count) {
    for (int64_t i = 0; i < n; i++) {
        float v = y[i] * s;
        for (int64_t j = 0; j < count; j++) v = fmaf(p[j], rows[(size_t)j * stride + i], v);
        y[i] = v;
    }
}

const muse_kernel_table muse_kernels_scalar = {
    .dot_q4_0_q8_0 = dot_q4_0_q8_0,
    .dot_q4_1_q8_1 = dot_q4_1_q8_1,
    .dot_q8_0_q8_0 = dot_q8_0_q8_0,
    .dot_q5_0_q8_0 = dot_q5_0_q8_0,
    .dot_q4_0_q8_0_blocks = dot_q4_0_q8_0_blocks,
    .dot_q5_0_q8_0_blocks = dot_q5_0_q8_0_blocks,
    .dot_q8_0_q8_0_blocks = dot_q8_0_q8_0_blocks,
    .dot_q4_1_q8_1_blocks = dot_q4_1_q8_1_blocks,
    .dot_q5_1_q8_1 = dot_q5_1_q8_1,
    .dot_q2_K_q8_K = dot_q2_K_q8_K,
    .dot_q3_K_q8_K = dot_q3_K_q8_K,
    .dot_q4_K_q8_K = dot_q4_K_q8_K,
    .dot_q5_K_q8_K = dot_q5_K_q8_K,
    .dot_q6_K_q8_K = dot_q6_K_q8_K,
    .dot_f16_f16 = dot_f16_f16,
    .dot_f32_f32 = dot_f32_f32,
    .dot_bf16_f32 = dot_bf16_f32,
    .swiglu = muse_swiglu_scalar,
    .geglu = muse_geglu_scalar,
    .mad_f16 = mad_f16,
    .scale_f16 = scale_f16,
    .dot_f32 = dot_f32,
    .scale_add_rows_f32 = scale_add_rows_f32,
    .f16_to_f32 = muse_f16_to_f32_row_reference,
};
