// Reference dot products: the plain math every faster path is tested against.
#include <math.h>
#include "internal.h"

// The quantized dots keep the summation order of the AVX2 path (and of ggml's x86 code): each
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
    .dot_f16_f16 = dot_f16_f16,
    .dot_f32_f32 = dot_f32_f32,
    .swiglu = muse_swiglu_scalar,
    .mad_f16 = mad_f16,
    .scale_f16 = scale_f16,
    .dot_f32 = dot_f32,
    .scale_add_rows_f32 = scale_add_rows_f32,
};
