// AVX2 + FMA + F16C dot products: 32-element quant blocks as one 256-bit vector of bytes.
#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>
#include "internal.h"

#define AVX2 __attribute__((target("avx2,fma,f16c")))

AVX2 static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// 16 bytes of nibbles -> 32 bytes: low nibbles first (elements 0..15), then high (16..31).
AVX2 static inline __m256i unpack_nibbles(const uint8_t *qs) {
    const __m128i packed = _mm_loadu_si128((const __m128i *)qs);
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// Sum of products of unsigned bytes u and signed bytes s, as 8 floats of 4-product sums.
AVX2 static inline __m256 madd_us8(__m256i u, __m256i s) {
    const __m256i pairs = _mm256_maddubs_epi16(u, s);
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

// Signed x signed: move x's sign onto y so maddubs (unsigned x signed) can be used.
AVX2 static inline __m256 madd_i8(__m256i x, __m256i y) {
    return madd_us8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

AVX2 static float dot_q4_0_q8_0(int64_t n, const void *w, const void *x) {
    const muse_block_q4_0 *a = w;
    const muse_block_q8_0 *b = x;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / MUSE_QK; i++) {
        const __m256 d = _mm256_set1_ps(muse_h2f(a[i].d) * muse_h2f(b[i].d));
        const __m256i qa = _mm256_sub_epi8(unpack_nibbles(a[i].qs), _mm256_set1_epi8(8));
        const __m256i qb = _mm256_loadu_si256((const __m256i *)b[i].qs);
        acc = _mm256_fmadd_ps(d, madd_i8(qa, qb), acc);
    }
    return hsum_ps(acc);
}

AVX2 static float dot_q4_1_q8_1(int64_t n, const void *w, const void *x) {
    const muse_block_q4_1 *a = w;
    const muse_block_q8_1 *b = x;
    __m256 acc = _mm256_setzero_ps();
    float offsets = 0.0f;
    for (int64_t i = 0; i < n / MUSE_QK; i++) {
        offsets = fmaf(muse_h2f(a[i].m), muse_h2f(b[i].s), offsets);
        const __m256 d = _mm256_set1_ps(muse_h2f(a[i].d) * muse_h2f(b[i].d));
        const __m256i qa = unpack_nibbles(a[i].qs);
        const __m256i qb = _mm256_loadu_si256((const __m256i *)b[i].qs);
        acc = _mm256_fmadd_ps(d, madd_us8(qa, qb), acc);
    }
    return hsum_ps(acc) + offsets;
}

AVX2 static float dot_q8_0_q8_0(int64_t n, const void *w, const void *x) {
    const muse_block_q8_0 *a = w;
    const muse_block_q8_0 *b = x;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / MUSE_QK; i++) {
        const __m256 d = _mm256_set1_ps(muse_h2f(a[i].d) * muse_h2f(b[i].d));
        const __m256i qa = _mm256_loadu_si256((const __m256i *)a[i].qs);
        const __m256i qb = _mm256_loadu_si256((const __m256i *)b[i].qs);
        acc = _mm256_fmadd_ps(d, madd_i8(qa, qb), acc);
    }
    return hsum_ps(acc);
}

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
AVX2 static __m256 expf_ggml(__m256 x) {
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
        const __m256 e = expf_ggml(_mm256_sub_ps(_mm256_setzero_ps(), x));
        const __m256 silu = _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
    }
    muse_swiglu_scalar(gate + i, up + i, n - i);
}

const muse_kernel_table muse_kernels_avx2 = {
    .dot_q4_0_q8_0 = dot_q4_0_q8_0,
    .dot_q4_1_q8_1 = dot_q4_1_q8_1,
    .dot_q8_0_q8_0 = dot_q8_0_q8_0,
    .dot_f16_f16 = dot_f16_f16,
    .dot_f32_f32 = dot_f32_f32,
    .swiglu = swiglu,
    .mad_f16 = mad_f16,
    .scale_f16 = scale_f16,
};
#endif
