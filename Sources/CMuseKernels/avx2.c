// AVX2 + FMA + F16C dot products: 32-element quant blocks as one 256-bit vector of bytes.
#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>
#include <string.h>
#include "internal.h"

#define AVX2 __attribute__((target("avx2,fma,f16c")))

// Integer lane sums: lane l of the result is the sum of the 4 products of bytes 4l..4l+3 of
// unsigned u and signed s. Pairs first (maddubs; no saturation for quant ranges), then quads.
AVX2 static inline __m256i us_dot_avx2(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// Byte shuffles that spread the K-quants' 16-bit sub-block scales over a vector: row s < 8 repeats
// lane s over both 128-bit halves (Q4_K, Q5_K: one scale per 32 elements); row 8 + c repeats lane
// 2c over the low half and 2c + 1 over the high half (Q2_K, Q3_K, Q6_K: one per 16).
#define QD_L16(lo, hi) {2 * (lo), 2 * (lo) + 1, 2 * (lo), 2 * (lo) + 1, 2 * (lo), 2 * (lo) + 1, 2 * (lo), 2 * (lo) + 1, \
                        2 * (lo), 2 * (lo) + 1, 2 * (lo), 2 * (lo) + 1, 2 * (lo), 2 * (lo) + 1, 2 * (lo), 2 * (lo) + 1, \
                        2 * (hi), 2 * (hi) + 1, 2 * (hi), 2 * (hi) + 1, 2 * (hi), 2 * (hi) + 1, 2 * (hi), 2 * (hi) + 1, \
                        2 * (hi), 2 * (hi) + 1, 2 * (hi), 2 * (hi) + 1, 2 * (hi), 2 * (hi) + 1, 2 * (hi), 2 * (hi) + 1}
static const uint8_t qd_lane16_masks[12][32] __attribute__((aligned(32))) = {
    QD_L16(0, 0), QD_L16(1, 1), QD_L16(2, 2), QD_L16(3, 3), QD_L16(4, 4), QD_L16(5, 5), QD_L16(6, 6), QD_L16(7, 7),
    QD_L16(0, 1), QD_L16(2, 3), QD_L16(4, 5), QD_L16(6, 7),
};
#undef QD_L16

static inline uint32_t qd_load32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

#define QD_TARGET AVX2
#define QD_NAME(name) name##_avx2
#define QD_US_DOT us_dot_avx2
#include "quant_dots.h"

// The same with AVX-VNNI: one instruction computes the four-product lane sums, with identical
// integer results (maddubs never saturates on quant ranges), so identical bits downstream; and one
// (dpwssd) the scaled pair sums of the K-quants, exact like madd + add.
#define AVXVNNI __attribute__((target("avx2,fma,f16c,avxvnni")))

AVXVNNI static inline __m256i us_dot_vnni(__m256i u, __m256i s) {
    return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), u, s);
}

#define QD_TARGET AVXVNNI
#define QD_NAME(name) name##_vnni
#define QD_US_DOT us_dot_vnni
#define QD_WS_DOT_ACC(acc, a, b) _mm256_dpwssd_avx_epi32((acc), (a), (b))
#define QD_US_DOT_ACC(acc, u, s) _mm256_dpbusd_avx_epi32((acc), (u), (s))
#include "quant_dots.h"

// And with AVX512-VNNI's EVEX form of the same instruction on 256-bit vectors: the same integers,
// for CPUs that have AVX-512 VNNI but not AVX-VNNI.
#define AVX512VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

AVX512VNNI static inline __m256i us_dot_avx512vnni(__m256i u, __m256i s) {
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
}

#define QD_TARGET AVX512VNNI
#define QD_NAME(name) name##_avx512vnni
#define QD_US_DOT us_dot_avx512vnni
#define QD_WS_DOT_ACC(acc, a, b) _mm256_dpwssd_epi32((acc), (a), (b))
#define QD_US_DOT_ACC(acc, u, s) _mm256_dpbusd_epi32((acc), (u), (s))
// The fifth bits straight from qh as a byte mask, and (EVEX: 32 registers) larger matmul tiles.
#define QD_Q5_ADD16(v, qh) _mm256_mask_add_epi8((v), (__mmask32)qd_load32(qh), (v), _mm256_set1_epi8(0x10))
#define QD_TILE_W 4
#define QD_TILE_X 4
#define QD_BLOCK_X 8
#include "quant_dots.h"

// 64 lanes as eight 8-lane accumulators (standing for ggml's four 16-lane ones), reduced in the
// order of the scalar reference: bit-identical results.
AVX2 static inline float reduce64(const __m256 acc[8]) {
    // Lanes 0-15 of t are (acc[l] + acc[l+32]) + (acc[l+16] + acc[l+48]).
    const __m256 lo = _mm256_add_ps(_mm256_add_ps(acc[0], acc[4]), _mm256_add_ps(acc[2], acc[6]));
    const __m256 hi = _mm256_add_ps(_mm256_add_ps(acc[1], acc[5]), _mm256_add_ps(acc[3], acc[7]));
    const __m256 u = _mm256_add_ps(hi, lo);
    const __m128 v = _mm_add_ps(_mm256_extractf128_ps(u, 1), _mm256_castps256_ps128(u));
    const __m128 w = _mm_add_ps(v, _mm_shuffle_ps(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
    return _mm_cvtss_f32(w) + _mm_cvtss_f32(_mm_shuffle_ps(w, w, 1));
}

AVX2 static float dot_f16_f16(int64_t n, const void *w, const void *x) {
    const uint16_t *a = w, *b = x;
    const int64_t np = n & ~(int64_t)63;
    __m256 acc[8];
    for (int j = 0; j < 8; j++) acc[j] = _mm256_setzero_ps();
    for (int64_t i = 0; i < np; i += 64) {
        for (int j = 0; j < 8; j++) {
            const __m256 va = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i + 8 * j)));
            const __m256 vb = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + i + 8 * j)));
            acc[j] = _mm256_fmadd_ps(va, vb, acc[j]);
        }
    }
    double sum = (double)reduce64(acc);
    for (int64_t i = np; i < n; i++) sum += (double)(muse_h2f(a[i]) * muse_h2f(b[i]));
    return (float)sum;
}

AVX2 static float dot_f32_f32(int64_t n, const void *w, const void *x) {
    const float *a = w, *b = x;
    const int64_t np = n & ~(int64_t)63;
    __m256 acc[8];
    for (int j = 0; j < 8; j++) acc[j] = _mm256_setzero_ps();
    for (int64_t i = 0; i < np; i += 64) {
        for (int j = 0; j < 8; j++) acc[j] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8 * j), _mm256_loadu_ps(b + i + 8 * j), acc[j]);
    }
    double sum = (double)reduce64(acc);
    for (int64_t i = np; i < n; i++) sum += (double)(a[i] * b[i]);
    return (float)sum;
}

// BF16 weights: widened to f32 by a 16-bit shift, then the f32 dot's order (bit-identical to the
// scalar reference).
AVX2 static float dot_bf16_f32(int64_t n, const void *w, const void *x) {
    const uint16_t *a = w;
    const float *b = x;
    const int64_t np = n & ~(int64_t)63;
    __m256 acc[8];
    for (int j = 0; j < 8; j++) acc[j] = _mm256_setzero_ps();
    for (int64_t i = 0; i < np; i += 64) {
        for (int j = 0; j < 8; j++) {
            const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(a + i + 8 * j)));
            const __m256 va = _mm256_castsi256_ps(_mm256_slli_epi32(h, 16));
            acc[j] = _mm256_fmadd_ps(va, _mm256_loadu_ps(b + i + 8 * j), acc[j]);
        }
    }
    double sum = (double)reduce64(acc);
    for (int64_t i = np; i < n; i++) sum += (double)(muse_bf16_to_f32(a[i]) * b[i]);
    return (float)sum;
}

AVX2 static void mad_f16(int64_t n, uint16_t *y, const uint16_t *x, float v) {
    const __m256 vv = _mm256_set1_ps(v);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 vx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i)));
        const __m256 vy = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(y + i)));
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_fmadd_ps(vx, vv, vy), _MM_FROUND_TO_NEAREST_INT));
    }
    for (; i < n; i++) y[i] = muse_f32_to_f16(fmaf(muse_h2f(x[i]), v, muse_h2f(y[i])));
}

AVX2 static void scale_f16(int64_t n, uint16_t *y, float v) {
    const __m256 vv = _mm256_set1_ps(v);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 vy = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(y + i)));
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_mul_ps(vy, vv), _MM_FROUND_TO_NEAREST_INT));
    }
    for (; i < n; i++) y[i] = muse_f32_to_f16(muse_h2f(y[i]) * v);
}

// ggml's 512-bit exp (see muse_expf_ggml) on 8 lanes: the same fused operations in the same order,
// and 2^n applied by adding n to the exponent, exact while the result stays normal; lanes that
// would leave the normal range go through the scalar version.
AVX2 __m256 muse_expf_ggml_avx2(__m256 x) {
    const __m256 r = _mm256_set1_ps(0x1.8p23f);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
    const __m256 n = _mm256_sub_ps(z, r);
    const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                      _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
    const __m256 u = _mm256_mul_ps(b, b);
    const __m256 j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                        _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
        u, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, _mm256_set1_ps(1.0f)));
    const __m256i bits = _mm256_add_epi32(_mm256_castps_si256(j), _mm256_slli_epi32(_mm256_cvtps_epi32(n), 23));
    __m256 result = _mm256_castsi256_ps(bits);
    const __m256 far = _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), n), _mm256_set1_ps(100), _CMP_GT_OQ);
    if (_mm256_movemask_ps(far)) {
        float xs[8], rs[8];
        _mm256_storeu_ps(xs, x);
        _mm256_storeu_ps(rs, result);
        for (int l = 0; l < 8; l++) rs[l] = muse_expf_ggml(xs[l]);
        result = _mm256_loadu_ps(rs);
    }
    return result;
}

AVX2 static void swiglu(float *gate, const float *up, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(gate + i);
        const __m256 e = muse_expf_ggml_avx2(_mm256_sub_ps(_mm256_setzero_ps(), x));
        const __m256 silu = _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
    }
    muse_swiglu_scalar(gate + i, up + i, n - i);
}

// muse_geglu_scalar's operations, 8 lanes at a time.
AVX2 static void geglu(float *gate, const float *up, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(gate + i);
        const __m256 cubic = _mm256_add_ps(_mm256_set1_ps(1.0f), _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(MUSE_GELU_COEF), x), x));
        const __m256 u = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(MUSE_GELU_SCALE), x), cubic);
        const __m256 e = muse_expf_ggml_avx2(_mm256_mul_ps(_mm256_set1_ps(-2.0f), u));
        const __m256 g = _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(g, _mm256_loadu_ps(up + i)));
    }
    muse_geglu_scalar(gate + i, up + i, n - i);
}

AVX2 static float dot_f32(int64_t n, const float *a, const float *b) {
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
    float sum = hsum_avx2(acc);
    for (; i < n; i++) sum = fmaf(a[i], b[i], sum);
    return sum;
}

// F16C's conversion, exact like the scalar one.
AVX2 static void f16_to_f32(const uint16_t *src, float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++) dst[i] = muse_h2f(src[i]);
}

// Four of dot_f32 at once (b, b + stride, ...), each with dot_f32's operations in its order: the
// query's loads serve four keys.
AVX2 static void dot4_f32(int64_t n, const float *a, const float *b, size_t stride, float *out) {
    __m256 acc[4];
    for (int j = 0; j < 4; j++) acc[j] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 va = _mm256_loadu_ps(a + i);
        for (int j = 0; j < 4; j++) acc[j] = _mm256_fmadd_ps(va, _mm256_loadu_ps(b + (size_t)j * stride + i), acc[j]);
    }
    for (int j = 0; j < 4; j++) {
        float sum = hsum_avx2(acc[j]);
        for (int64_t k = i; k < n; k++) sum = fmaf(a[k], b[(size_t)j * stride + k], sum);
        out[j] = sum;
    }
}

AVX2 static void scale_add_rows_f32(int64_t n, float *y, float s, const float *p, const float *rows, size_t stride, int64_t count) {
    int64_t i = 0;
    // 32 lanes at a time: each p[j] is broadcast once for four vectors. Every lane's chain of
    // operations is the one of the 8-lane loop below.
    for (; i + 32 <= n; i += 32) {
        __m256 v[4];
        for (int c = 0; c < 4; c++) v[c] = _mm256_mul_ps(_mm256_loadu_ps(y + i + 8 * c), _mm256_set1_ps(s));
        for (int64_t j = 0; j < count; j++) {
            const __m256 pj = _mm256_set1_ps(p[j]);
            const float *row = rows + (size_t)j * stride + i;
            for (int c = 0; c < 4; c++) v[c] = _mm256_fmadd_ps(pj, _mm256_loadu_ps(row + 8 * c), v[c]);
        }
        for (int c = 0; c < 4; c++) _mm256_storeu_ps(y + i + 8 * c, v[c]);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(y + i), _mm256_set1_ps(s));
        for (int64_t j = 0; j < count; j++) {
            v = _mm256_fmadd_ps(_mm256_set1_ps(p[j]), _mm256_loadu_ps(rows + (size_t)j * stride + i), v);
        }
        _mm256_storeu_ps(y + i, v);
    }
    for (; i < n; i++) {
        float v = y[i] * s;
        for (int64_t j = 0; j < count; j++) v = fmaf(p[j], rows[(size_t)j * stride + i], v);
        y[i] = v;
    }
}

// The one-query attention step for 64-dimensional heads, fused: the query converted once, the fp16
// accumulator kept in registers between positions. Every operation and its order are those of the
// generic loop over dot_f16_f16, scale_f16 and mad_f16, so the bits are the same.
AVX2 static int attention_step(muse_attention_state *state, uint16_t *acc16, const uint16_t *q16,
                               const uint16_t *k, size_t k_stride, const uint16_t *v, size_t v_stride,
                               int64_t count, int64_t dk, int64_t dv, float scale) {
    if (dk != 64 || dv != 64) return 0;
    __m256 q[8];
    __m128i a[8];
    for (int j = 0; j < 8; j++) {
        q[j] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(q16 + 8 * j)));
        a[j] = _mm_loadu_si128((const __m128i *)(acc16 + 8 * j));
    }
    float max = state->max, sum = state->sum;
    for (int64_t i = 0; i < count; i++) {
        const uint16_t *kr = k + (size_t)i * k_stride, *vr = v + (size_t)i * v_stride;
        __m256 p[8];
        // fma(k, q, 0) rounds once, like the product alone.
        for (int j = 0; j < 8; j++) p[j] = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(kr + 8 * j))), q[j]);
        const float s = (float)(double)reduce64(p) * scale;
        float ms = 1.0f, vs = 1.0f;
        if (s > max) {
            ms = expf(max - s);
            max = s;
            const __m256 m = _mm256_set1_ps(ms);
            for (int j = 0; j < 8; j++) a[j] = _mm256_cvtps_ph(_mm256_mul_ps(_mm256_cvtph_ps(a[j]), m), _MM_FROUND_TO_NEAREST_INT);
        } else {
            vs = expf(s - max);
        }
        const __m256 w = _mm256_set1_ps(vs);
        for (int j = 0; j < 8; j++) {
            const __m256 vv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(vr + 8 * j)));
            a[j] = _mm256_cvtps_ph(_mm256_fmadd_ps(vv, w, _mm256_cvtph_ps(a[j])), _MM_FROUND_TO_NEAREST_INT);
        }
        sum = fmaf(sum, ms, vs);
    }
    for (int j = 0; j < 8; j++) _mm_storeu_si128((__m128i *)(acc16 + 8 * j), a[j]);
    state->max = max;
    state->sum = sum;
    return 1;
}

// The 256-bit tables differ only in how the quantized kernels sum bytes.
#define MUSE_AVX_TABLE(Q)                               \
    {                                                   \
        .dot_q4_0_q8_0 = dot_q4_0_q8_0_##Q,             \
        .dot_q4_1_q8_1 = dot_q4_1_q8_1_##Q,             \
        .dot_q8_0_q8_0 = dot_q8_0_q8_0_##Q,             \
        .matmul_q4_0 = matmul_q4_0_##Q,                 \
        .matmul_q4_1 = matmul_q4_1_##Q,                 \
        .matmul_q8_0 = matmul_q8_0_##Q,                 \
        .dot_q5_0_q8_0 = dot_q5_0_q8_0_##Q,             \
        .dot_q5_1_q8_1 = dot_q5_1_q8_1_##Q,             \
        .dot_q2_K_q8_K = dot_q2_K_q8_K_##Q,             \
        .dot_q3_K_q8_K = dot_q3_K_q8_K_##Q,             \
        .dot_q4_K_q8_K = dot_q4_K_q8_K_##Q,             \
        .dot_q5_K_q8_K = dot_q5_K_q8_K_##Q,             \
        .dot_q6_K_q8_K = dot_q6_K_q8_K_##Q,             \
        .matmul_q5_0 = matmul_q5_0_##Q,                 \
        .matmul_q5_1 = matmul_q5_1_##Q,                 \
        .matmul_q2_K = matmul_q2_K_##Q,                 \
        .matmul_q3_K = matmul_q3_K_##Q,                 \
        .matmul_q4_K = matmul_q4_K_tiled_##Q,           \
        .matmul_q5_K = matmul_q5_K_tiled_##Q,           \
        .matmul_q6_K = matmul_q6_K_tiled_##Q,           \
        .dot_q4_0_q8_0_blocks = dot_q4_0_q8_0_blocks_##Q,\
        .dot_q5_0_q8_0_blocks = dot_q5_0_q8_0_blocks_##Q,\
        .matmul_q4_0_blocks = matmul_q4_0_blocks_##Q,   \
        .matmul_q5_0_blocks = matmul_q5_0_blocks_##Q,   \
        .matmul_q4_0_packed = matmul_q4_0_packed_##Q,   \
        .matmul_q4_1_packed = matmul_q4_1_packed_##Q,   \
        .matmul_q5_0_packed = matmul_q5_0_packed_##Q,   \
        .matmul_q8_0_packed = matmul_q8_0_packed_##Q,   \
        .matmul_q4_K_packed = matmul_q4_K_packed_##Q,   \
        .dot_f16_f16 = dot_f16_f16,                     \
        .dot_f32_f32 = dot_f32_f32,                     \
        .dot_bf16_f32 = dot_bf16_f32,                   \
        .swiglu = swiglu,                               \
        .geglu = geglu,                                 \
        .mad_f16 = mad_f16,                             \
        .scale_f16 = scale_f16,                         \
        .dot_f32 = dot_f32,                             \
        .dot4_f32 = dot4_f32,                           \
        .scale_add_rows_f32 = scale_add_rows_f32,       \
        .attention_step = attention_step,               \
        .f16_to_f32 = f16_to_f32,                       \
    }

const muse_kernel_table muse_kernels_avx2 = MUSE_AVX_TABLE(avx2);
const muse_kernel_table muse_kernels_avx_vnni = MUSE_AVX_TABLE(vnni);
const muse_kernel_table muse_kernels_avx512_vnni = MUSE_AVX_TABLE(avx512vnni);
#endif
