// Single-precision matrix products for the models that keep float weights (the speech encoder and
// decoder): y[t * ldy + r] = sum_i w[r * ldw + i] * x[t * ldx + i], both operands with their
// inner dimension contiguous, as a linear layer's weight rows and its input rows are.
//
// The vector paths compute tiles of 4 weight rows by up to 4 (AVX-512) or 3 (AVX2) input rows with
// one accumulator per pair, lanes summed at the end in a fixed order. Every dot is computed the
// same way whatever the tile it falls in, so results do not depend on how many rows are multiplied
// at once (batch-invariant).
#include <math.h>
#include <string.h>
#include "internal.h"

void muse_sgemm_reference(int64_t k, const float *w, int64_t ldw, int64_t r0, int64_t r1,
                          const float *x, int64_t ldx, int64_t nx, float *y, int64_t ldy) {
    for (int64_t t = 0; t < nx; t++) {
        for (int64_t r = r0; r < r1; r++) {
            const float *a = w + r * ldw, *b = x + t * ldx;
            float sum = 0;
            for (int64_t i = 0; i < k; i++) sum += a[i] * b[i];
            y[t * ldy + r] = sum;
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

/// Input rows per block: the block (at most 64 rows of k floats) stays in L2 while every group of
/// 4 weight rows passes over it.
#define SGEMM_X_BLOCK 64

#define AVX2_T __attribute__((target("avx2,fma,f16c")))
#define AVX512_T __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl")))

AVX2_T static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Lane masks for a k that is not a multiple of 8: the first `n` lanes set.
static const int32_t tail_mask8[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

// Weight loads: f32 rows, or f16 rows widened exactly (F16C); `m` masks the lanes of a tail.
#define LOAD256_F32(p) _mm256_loadu_ps(p)
#define LOAD256_F32_MASK(p, m, n) _mm256_maskload_ps((p), (m))
#define LOAD256_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define LOAD256_F16_MASK(p, m, n) load256_f16_tail((p), (n))
#define LOAD512_F32(p) _mm512_loadu_ps(p)
#define LOAD512_F32_MASK(p, m) _mm512_maskz_loadu_ps((m), (p))
#define LOAD512_F16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
#define LOAD512_F16_MASK(p, m) _mm512_cvtph_ps(_mm256_maskz_loadu_epi16((m), (p)))

AVX2_T static inline __m256 load256_f16_tail(const uint16_t *p, int64_t n) {
    uint16_t h[8] = {0};
    memcpy(h, p, (size_t)n * sizeof(uint16_t));
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)h));
}

// 4 weight rows (of type WT) by TX input rows, 8 lanes. A tile of fewer input rows computes its
// dots exactly as a full one does.
#define DOT_TILE256(NAME, WT, LOADW, LOADW_MASK, TX)                                                      \
    AVX2_T static void NAME##_##TX(int64_t k, const WT *const w[4], const float *const x[], float out[4][3]) { \
        __m256 acc[4][TX];                                                                               \
        for (int r = 0; r < 4; r++)                                                                      \
            for (int j = 0; j < TX; j++) acc[r][j] = _mm256_setzero_ps();                                \
        int64_t i = 0;                                                                                   \
        for (; i + 8 <= k; i += 8) {                                                                     \
            __m256 b[TX];                                                                                \
            for (int j = 0; j < TX; j++) b[j] = _mm256_loadu_ps(x[j] + i);                               \
            for (int r = 0; r < 4; r++) {                                                                \
                const __m256 a = LOADW(w[r] + i);                                                        \
                for (int j = 0; j < TX; j++) acc[r][j] = _mm256_fmadd_ps(a, b[j], acc[r][j]);            \
            }                                                                                            \
        }                                                                                                \
        if (i < k) {                                                                                     \
            const __m256i m = _mm256_loadu_si256((const __m256i *)(tail_mask8 + 8 - (k - i)));           \
            __m256 b[TX];                                                                                \
            for (int j = 0; j < TX; j++) b[j] = _mm256_maskload_ps(x[j] + i, m);                         \
            for (int r = 0; r < 4; r++) {                                                                \
                const __m256 a = LOADW_MASK(w[r] + i, m, k - i);                                         \
                for (int j = 0; j < TX; j++) acc[r][j] = _mm256_fmadd_ps(a, b[j], acc[r][j]);            \
            }                                                                                            \
        }                                                                                                \
        for (int r = 0; r < 4; r++)                                                                      \
            for (int j = 0; j < TX; j++) out[r][j] = hsum256(acc[r][j]);                                 \
    }
DOT_TILE256(tile_avx2, float, LOAD256_F32, LOAD256_F32_MASK, 1)
DOT_TILE256(tile_avx2, float, LOAD256_F32, LOAD256_F32_MASK, 2)
DOT_TILE256(tile_avx2, float, LOAD256_F32, LOAD256_F32_MASK, 3)
DOT_TILE256(tile16_avx2, uint16_t, LOAD256_F16, LOAD256_F16_MASK, 1)
DOT_TILE256(tile16_avx2, uint16_t, LOAD256_F16, LOAD256_F16_MASK, 2)
DOT_TILE256(tile16_avx2, uint16_t, LOAD256_F16, LOAD256_F16_MASK, 3)

// 4 weight rows by TX input rows, 16 lanes.
#define DOT_TILE512(NAME, WT, LOADW, LOADW_MASK, TX)                                                      \
    AVX512_T static void NAME##_##TX(int64_t k, const WT *const w[4], const float *const x[], float out[4][4]) { \
        __m512 acc[4][TX];                                                                               \
        for (int r = 0; r < 4; r++)                                                                      \
            for (int j = 0; j < TX; j++) acc[r][j] = _mm512_setzero_ps();                                \
        int64_t i = 0;                                                                                   \
        for (; i + 16 <= k; i += 16) {                                                                   \
            const __m512 a0 = LOADW(w[0] + i), a1 = LOADW(w[1] + i), a2 = LOADW(w[2] + i), a3 = LOADW(w[3] + i); \
            for (int j = 0; j < TX; j++) {                                                               \
                const __m512 b = _mm512_loadu_ps(x[j] + i);                                              \
                acc[0][j] = _mm512_fmadd_ps(a0, b, acc[0][j]);                                           \
                acc[1][j] = _mm512_fmadd_ps(a1, b, acc[1][j]);                                           \
                acc[2][j] = _mm512_fmadd_ps(a2, b, acc[2][j]);                                           \
                acc[3][j] = _mm512_fmadd_ps(a3, b, acc[3][j]);                                           \
            }                                                                                            \
        }                                                                                                \
        if (i < k) {                                                                                     \
            const __mmask16 m = (__mmask16)((1u << (k - i)) - 1);                                        \
            const __m512 a0 = LOADW_MASK(w[0] + i, m), a1 = LOADW_MASK(w[1] + i, m),                    \
                         a2 = LOADW_MASK(w[2] + i, m), a3 = LOADW_MASK(w[3] + i, m);                     \
            for (int j = 0; j < TX; j++) {                                                               \
                const __m512 b = _mm512_maskz_loadu_ps(m, x[j] + i);                                     \
                acc[0][j] = _mm512_fmadd_ps(a0, b, acc[0][j]);                                           \
                acc[1][j] = _mm512_fmadd_ps(a1, b, acc[1][j]);                                           \
                acc[2][j] = _mm512_fmadd_ps(a2, b, acc[2][j]);                                           \
                acc[3][j] = _mm512_fmadd_ps(a3, b, acc[3][j]);                                           \
            }                                                                                            \
        }                                                                                                \
        for (int r = 0; r < 4; r++)                                                                      \
            for (int j = 0; j < TX; j++) out[r][j] = _mm512_reduce_add_ps(acc[r][j]);                    \
    }
DOT_TILE512(tile_avx512, float, LOAD512_F32, LOAD512_F32_MASK, 1)
DOT_TILE512(tile_avx512, float, LOAD512_F32, LOAD512_F32_MASK, 2)
DOT_TILE512(tile_avx512, float, LOAD512_F32, LOAD512_F32_MASK, 3)
DOT_TILE512(tile_avx512, float, LOAD512_F32, LOAD512_F32_MASK, 4)
DOT_TILE512(tile16_avx512, uint16_t, LOAD512_F16, LOAD512_F16_MASK, 1)
DOT_TILE512(tile16_avx512, uint16_t, LOAD512_F16, LOAD512_F16_MASK, 2)
DOT_TILE512(tile16_avx512, uint16_t, LOAD512_F16, LOAD512_F16_MASK, 3)
DOT_TILE512(tile16_avx512, uint16_t, LOAD512_F16, LOAD512_F16_MASK, 4)

// The blocked loop around tiles of 4 weight rows by up to TX input rows; weight rows past the end
// repeat the last one (their dots are dropped), input rows take the tile of their count (`TILE`
// calls it).
#define SGEMM_LOOP(WT, TX, TILE)                                                                          \
    for (int64_t t0 = 0; t0 < nx; t0 += SGEMM_X_BLOCK) {                                                 \
        const int64_t t1 = t0 + SGEMM_X_BLOCK < nx ? t0 + SGEMM_X_BLOCK : nx;                            \
        for (int64_t r = r0; r < r1; r += 4) {                                                           \
            const WT *wr[4];                                                                             \
            for (int i = 0; i < 4; i++) wr[i] = w + (r + i < r1 ? r + i : r1 - 1) * ldw;                 \
            for (int64_t t = t0; t < t1; t += TX) {                                                      \
                const int64_t count = t1 - t < TX ? t1 - t : TX;                                         \
                const float *xr[TX];                                                                     \
                for (int j = 0; j < count; j++) xr[j] = x + (t + j) * ldx;                               \
                float out[4][TX];                                                                        \
                TILE                                                                                     \
                for (int i = 0; i < 4 && r + i < r1; i++)                                                \
                    for (int j = 0; j < count; j++) y[(t + j) * ldy + r + i] = out[i][j];                \
            }                                                                                            \
        }                                                                                                \
    }

// The drivers: TILES[n] is the tile for n input rows.
#define SGEMM_DRIVER(NAME, WT, TX, TILES)                                                                  \
    static void NAME(int64_t k, const WT *w, int64_t ldw, int64_t r0, int64_t r1,                          \
                     const float *x, int64_t ldx, int64_t nx, float *y, int64_t ldy) {                     \
        SGEMM_LOOP(WT, TX, TILES[count](k, wr, xr, out);)                                                  \
    }

typedef void (*tile256_f32)(int64_t, const float *const[4], const float *const[], float[4][3]);
typedef void (*tile256_f16)(int64_t, const uint16_t *const[4], const float *const[], float[4][3]);
typedef void (*tile512_f32)(int64_t, const float *const[4], const float *const[], float[4][4]);
typedef void (*tile512_f16)(int64_t, const uint16_t *const[4], const float *const[], float[4][4]);
static const tile256_f32 tiles_avx2[] = {0, tile_avx2_1, tile_avx2_2, tile_avx2_3};
static const tile256_f16 tiles16_avx2[] = {0, tile16_avx2_1, tile16_avx2_2, tile16_avx2_3};
static const tile512_f32 tiles_avx512[] = {0, tile_avx512_1, tile_avx512_2, tile_avx512_3, tile_avx512_4};
static const tile512_f16 tiles16_avx512[] = {0, tile16_avx512_1, tile16_avx512_2, tile16_avx512_3, tile16_avx512_4};

SGEMM_DRIVER(sgemm_avx2, float, 3, tiles_avx2)
SGEMM_DRIVER(sgemm_avx512, float, 4, tiles_avx512)
SGEMM_DRIVER(sgemm_f16_avx2, uint16_t, 3, tiles16_avx2)
SGEMM_DRIVER(sgemm_f16_avx512, uint16_t, 4, tiles16_avx512)
#endif

void muse_sgemm_f16_reference(int64_t k, const uint16_t *w, int64_t ldw, int64_t r0, int64_t r1,
                              const float *x, int64_t ldx, int64_t nx, float *y, int64_t ldy) {
    for (int64_t t = 0; t < nx; t++) {
        for (int64_t r = r0; r < r1; r++) {
            const uint16_t *a = w + r * ldw;
            const float *b = x + t * ldx;
            float sum = 0;
            for (int64_t i = 0; i < k; i++) sum += muse_f16_to_f32(a[i]) * b[i];
            y[t * ldy + r] = sum;
        }
    }
}

void muse_sgemm_f16(int64_t k, const uint16_t *w, int64_t ldw, int64_t r0, int64_t r1,
                    const float *x, int64_t ldx, int64_t nx, float *y, int64_t ldy) {
    if (r1 <= r0 || nx <= 0) return;
#if defined(__x86_64__)
    switch (muse_kernels_active()) {
    case MUSE_PATH_AVX512_VNNI: sgemm_f16_avx512(k, w, ldw, r0, r1, x, ldx, nx, y, ldy); return;
    case MUSE_PATH_AVX2:
    case MUSE_PATH_AVX_VNNI: sgemm_f16_avx2(k, w, ldw, r0, r1, x, ldx, nx, y, ldy); return;
    default: break;
    }
#endif
    muse_sgemm_f16_reference(k, w, ldw, r0, r1, x, ldx, nx, y, ldy);
}

void muse_sgemm(int64_t k, const float *w, int64_t ldw, int64_t r0, int64_t r1,
                const float *x, int64_t ldx, int64_t nx, float *y, int64_t ldy) {
    if (r1 <= r0 || nx <= 0) return;
#if defined(__x86_64__)
    switch (muse_kernels_active()) {
    case MUSE_PATH_AVX512_VNNI: sgemm_avx512(k, w, ldw, r0, r1, x, ldx, nx, y, ldy); return;
    case MUSE_PATH_AVX2:
    case MUSE_PATH_AVX_VNNI: sgemm_avx2(k, w, ldw, r0, r1, x, ldx, nx, y, ldy); return;
    default: break;
    }
#endif
    muse_sgemm_reference(k, w, ldw, r0, r1, x, ldx, nx, y, ldy);
}

void muse_gelu_erf_reference(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

#if defined(__x86_64__)
// erfc(z) for z >= 0 as t * exp(-z^2 + P(t)) with t = 1 / (1 + z / 2) (Numerical Recipes' erfcc,
// relative error below 1.2e-7), so gelu(x) = x * (1 - erfc(x / sqrt 2) / 2) for x >= 0 and
// x * erfc(-x / sqrt 2) / 2 below.
AVX2_T static void gelu_avx2(float *x, int64_t n) {
    static const float c[10] = {-1.26551223f, 1.00002368f, 0.37409196f, 0.09678418f, -0.18628806f,
                                0.27886807f, -1.13520398f, 1.48851587f, -0.82215223f, 0.17087277f};
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 z = _mm256_andnot_ps(sign, _mm256_mul_ps(v, _mm256_set1_ps(0.70710678118654752f)));
        const __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(half, z, one));
        __m256 p = _mm256_set1_ps(c[9]);
        for (int k = 8; k >= 0; k--) p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(c[k]));
        // Below e^-69, erfc is 0 to float precision: gelu(x) is x or 0.
        const __m256 arg = _mm256_sub_ps(p, _mm256_mul_ps(z, z)), low = _mm256_set1_ps(-69.0f);
        const __m256 e = _mm256_and_ps(muse_expf_ggml_avx2(_mm256_max_ps(arg, low)), _mm256_cmp_ps(arg, low, _CMP_GE_OQ));
        const __m256 erfc = _mm256_mul_ps(t, e);
        // x >= 0: x * (1 - erfc / 2); x < 0: x * erfc / 2.
        const __m256 positive = _mm256_fnmadd_ps(half, erfc, one);
        const __m256 negative = _mm256_mul_ps(half, erfc);
        const __m256 factor = _mm256_blendv_ps(positive, negative, v);
        _mm256_storeu_ps(x + i, _mm256_mul_ps(v, factor));
    }
    muse_gelu_erf_reference(x + i, n - i);
}
#endif

void muse_gelu_erf(float *x, int64_t n) {
#if defined(__x86_64__)
    if (muse_kernels_active() != MUSE_PATH_SCALAR) {
        gelu_avx2(x, n);
        return;
    }
#endif
    muse_gelu_erf_reference(x, n);
}

void muse_layernorm(float *y, const float *x, const float *gamma, const float *beta, int64_t n, float eps) {
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += x[i];
    const float mean = (float)(sum / (double)n);
    double var = 0;
    for (int64_t i = 0; i < n; i++) {
        const double d = x[i] - mean;
        var += d * d;
    }
    const float inv = 1.0f / sqrtf((float)(var / (double)n) + eps);
    for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mean) * inv * gamma[i] + beta[i];
}

// ---------------------------------------------------------------------------------------------
// The same product with the weights stored transposed (k-major): y[t][r] = sum_i x[t][i] * wt[i][r].
// Each output is one chain of fused multiply-adds in i order, which every path computes the same
// way (a lane per output, the input broadcast), so the vector paths give the reference's bits and
// no output depends on the tile it falls in.

void muse_sgemm_kn_reference(int64_t k, const float *wt, int64_t ldw, int64_t r0, int64_t r1,
                             const float *x, int64_t ldx, int64_t nx, float *y, int64_t ldy) {
    for (int64_t t = 0; t < nx; t++) {
        for (int64_t r = r0; r < r1; r++) {
            float sum = 0;
            for (int64_t i = 0; i < k; i++) sum = fmaf(x[t * ldx + i], wt[i * ldw + r], sum);
            y[t * ldy + r] = sum;
        }
    }
}

#if defined(__x86_64__)
/// Inputs per pass: a panel of KN_KC rows of 32 weights (32 KiB) stays in L1 while the tiles of
/// input rows pass over it; the next pass resumes each output's chain from y.
#define KN_KC 256

// m input rows by 32 outputs (two 16-lane vectors), lanes masked to the `mask` outputs present.
#define KN_TILE512(M)                                                                                      \
    AVX512_T static void kn_tile512_##M(int64_t i0, int64_t i1, int first, const float *wt, int64_t ldw,  \
                                        const float *x, int64_t ldx, float *y, int64_t ldy,               \
                                        __mmask16 m0, __mmask16 m1) {                                     \
        __m512 a[M][2];                                                                                   \
        for (int j = 0; j < M; j++) {                                                                     \
            a[j][0] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m0, y + j * ldy);               \
            a[j][1] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m1, y + j * ldy + 16);          \
        }                                                                                                 \
        for (int64_t i = i0; i < i1; i++) {                                                               \
            const __m512 w0 = _mm512_maskz_loadu_ps(m0, wt + i * ldw), w1 = _mm512_maskz_loadu_ps(m1, wt + i * ldw + 16); \
            for (int j = 0; j < M; j++) {                                                                 \
                const __m512 b = _mm512_set1_ps(x[j * ldx + i]);                                          \
                a[j][0] = _mm512_fmadd_ps(b, w0, a[j][0]);                                                \
                a[j][1] = _mm512_fmadd_ps(b, w1, a[j][1]);                                                \
            }                                                                                             \
        }                                                                                                 \
        for (int j = 0; j < M; j++) {                                                                     \
            _mm512_mask_storeu_ps(y + j * ldy, m0, a[j][0]);                                              \
            _mm512_mask_storeu_ps(y + j * ldy + 16, m1, a[j][1]);                                         \
        }                                                                                                 \
    }
KN_TILE512(1)
KN_TILE512(2)
KN_TILE512(3)
KN_TILE512(4)
KN_TILE512(5)
KN_TILE512(6)
static void (*const kn_tiles512[])(int64_t, int64_t, int, const float *, int64_t, const float *, int64_t, float *, int64_t,
                                   __mmask16, __mmask16) = {0, kn_tile512_1, kn_tile512_2, kn_tile512_3, kn_tile512_4, kn_tile512_5, kn_tile512_6};

// The panel of weights the tiles of a pass read, copied contiguous when many input rows will read
// it (rows of the transposed weights are far apart: read in place, each of a pass's steps would
// touch another page). `cols` valid columns of `width`; the rest are never loaded (masked).
static const float *kn_panel(const float *wt, int64_t ldw, int64_t i0, int64_t i1, int64_t r, int64_t cols,
                             int64_t width, int64_t nx, float *panel, int64_t *ld) {
    if (nx < 12) {
        *ld = ldw;
        return wt + r;
    }
    for (int64_t i = i0; i < i1; i++) memcpy(panel + (i - i0) * width, wt + i * ldw + r, (size_t)cols * sizeof(float));
    *ld = width;
    return panel - i0 * width;
}

static void sgemm_kn_avx512(int64_t k, const float *wt, int64_t ldw, int64_t r0, int64_t r1,
                            const float *x, int64_t ldx, int64_t nx, float *y, int64_t ldy) {
    float panel[KN_KC * 32] __attribute__((aligned(64)));
    for (int64_t i0 = 0; i0 < k; i0 += KN_KC) {
        const int64_t i1 = i0 + KN_KC < k ? i0 + KN_KC : k;
        for (int64_t r = r0; r < r1; r += 32) {
            const int64_t left = r1 - r;
            const __mmask16 m0 = left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1);
            const __mmask16 m1 = left >= 32 ? 0xFFFF : left <= 16 ? 0 : (__mmask16)((1u << (left - 16)) - 1);
            int64_t ld;
            const float *w = kn_panel(wt, ldw, i0, i1, r, left < 32 ? left : 32, 32, nx, panel, &ld);
            for (int64_t t = 0; t < nx; t += 6) {
                const float *xt = x + t * ldx;
                float *yt = y + t * ldy + r;
                kn_tiles512[nx - t >= 6 ? 6 : nx - t](i0, i1, i0 == 0, w, ld, xt, ldx, yt, ldy, m0, m1);
            }
        }
    }
}

// AVX2: m input rows by 16 outputs (two 8-lane vectors).
#define KN_TILE256(M)                                                                                      \
    AVX2_T static void kn_tile256_##M(int64_t i0, int64_t i1, int first, const float *wt, int64_t ldw,    \
                                      const float *x, int64_t ldx, float *y, int64_t ldy,                 \
                                      __m256i m0, __m256i m1) {                                           \
        __m256 a[M][2];                                                                                   \
        for (int j = 0; j < M; j++) {                                                                     \
            a[j][0] = first ? _mm256_setzero_ps() : _mm256_maskload_ps(y + j * ldy, m0);                  \
            a[j][1] = first ? _mm256_setzero_ps() : _mm256_maskload_ps(y + j * ldy + 8, m1);              \
        }                                                                                                 \
        for (int64_t i = i0; i < i1; i++) {                                                               \
            const __m256 w0 = _mm256_maskload_ps(wt + i * ldw, m0), w1 = _mm256_maskload_ps(wt + i * ldw + 8, m1); \
            for (int j = 0; j < M; j++) {                                                                 \
                const __m256 b = _mm256_broadcast_ss(x + j * ldx + i);                                    \
                a[j][0] = _mm256_fmadd_ps(b, w0, a[j][0]);                                                \
                a[j][1] = _mm256_fmadd_ps(b, w1, a[j][1]);                                                \
            }                                                                                             \
        }                                                                                                 \
        for (int j = 0; j < M; j++) {                                                                     \
            _mm256_maskstore_ps(y + j * ldy, m0, a[j][0]);                                                \
            _mm256_maskstore_ps(y + j * ldy + 8, m1, a[j][1]);                                            \
        }                                                                                                 \
    }
KN_TILE256(1)
KN_TILE256(2)
KN_TILE256(3)
KN_TILE256(4)
KN_TILE256(5)
KN_TILE256(6)
static void (*const kn_tiles256[])(int64_t, int64_t, int, const float *, int64_t, const float *, int64_t, float *, int64_t,
                                   __m256i, __m256i) = {0, kn_tile256_1, kn_tile256_2, kn_tile256_3, kn_tile256_4, kn_tile256_5, kn_tile256_6};

AVX2_T static __m256i lanes_below(int64_t n) {
    const int64_t c = n < 0 ? 0 : n > 8 ? 8 : n;
    return _mm256_loadu_si256((const __m256i *)(tail_mask8 + 8 - c));
}

AVX2_T static void sgemm_kn_avx2(int64_t k, const float *wt, int64_t ldw, int64_t r0, int64_t r1,
                                 const float *x, int64_t ldx, int64_t nx, float *y, int64_t ldy) {
    float panel[KN_KC * 16] __attribute__((aligned(32)));
    for (int64_t i0 = 0; i0 < k; i0 += KN_KC) {
        const int64_t i1 = i0 + KN_KC < k ? i0 + KN_KC : k;
        for (int64_t r = r0; r < r1; r += 16) {
            const __m256i m0 = lanes_below(r1 - r), m1 = lanes_below(r1 - r - 8);
            int64_t ld;
            const float *w = kn_panel(wt, ldw, i0, i1, r, r1 - r < 16 ? r1 - r : 16, 16, nx, panel, &ld);
            for (int64_t t = 0; t < nx; t += 6) {
                const float *xt = x + t * ldx;
                float *yt = y + t * ldy + r;
                kn_tiles256[nx - t >= 6 ? 6 : nx - t](i0, i1, i0 == 0, w, ld, xt, ldx, yt, ldy, m0, m1);
            }
        }
    }
}
#endif

void muse_sgemm_kn(int64_t k, const float *wt, int64_t ldw, int64_t r0, int64_t r1,
                   const float *x, int64_t ldx, int64_t nx, float *y, int64_t ldy) {
    if (r1 <= r0 || nx <= 0) return;
    if (k <= 0) {
        for (int64_t t = 0; t < nx; t++) memset(y + t * ldy + r0, 0, (size_t)(r1 - r0) * sizeof(float));
        return;
    }
#if defined(__x86_64__)
    switch (muse_kernels_active()) {
    case MUSE_PATH_AVX512_VNNI: sgemm_kn_avx512(k, wt, ldw, r0, r1, x, ldx, nx, y, ldy); return;
    case MUSE_PATH_AVX2:
    case MUSE_PATH_AVX_VNNI: sgemm_kn_avx2(k, wt, ldw, r0, r1, x, ldx, nx, y, ldy); return;
    default: break;
    }
#endif
    muse_sgemm_kn_reference(k, wt, ldw, r0, r1, x, ldx, nx, y, ldy);
}

// ---------------------------------------------------------------------------------------------
// Softmax of one row: x = exp((x - max) * scale) / sum, with ggml's exp.

void muse_softmax_reference(float *x, int64_t n, float scale) {
    float top = -INFINITY;
    for (int64_t i = 0; i < n; i++) top = x[i] > top ? x[i] : top;
    float sum = 0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = muse_expf_ggml((x[i] - top) * scale);
        sum += x[i];
    }
    const float inv = 1.0f / sum;
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

#if defined(__x86_64__)
/// exp(x) on 8 lanes, 0 where x < -69: below 1e-30, where the value matters to no sum it goes
/// into and ggml's exp would take its slow scalar path.
AVX2_T static inline __m256 exp_or_zero(__m256 x) {
    const __m256 low = _mm256_set1_ps(-69.0f);
    const __m256 e = muse_expf_ggml_avx2(_mm256_max_ps(x, low));
    return _mm256_and_ps(e, _mm256_cmp_ps(x, low, _CMP_GE_OQ));
}

AVX2_T static void softmax_avx2(float *x, int64_t n, float scale) {
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
    float top = -INFINITY;
    float lanes[8];
    _mm256_storeu_ps(lanes, vmax);
    for (int l = 0; l < 8; l++) top = lanes[l] > top ? lanes[l] : top;
    for (int64_t j = i; j < n; j++) top = x[j] > top ? x[j] : top;
    const __m256 vtop = _mm256_set1_ps(top), vscale = _mm256_set1_ps(scale);
    __m256 vsum = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 e = exp_or_zero(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vtop), vscale));
        _mm256_storeu_ps(x + i, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    float sum = hsum256(vsum);
    for (int64_t j = i; j < n; j++) {
        x[j] = muse_expf_ggml((x[j] - top) * scale);
        sum += x[j];
    }
    const __m256 inv = _mm256_set1_ps(1.0f / sum);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    for (int64_t j = i; j < n; j++) x[j] *= 1.0f / sum;
}
#endif

void muse_softmax(float *x, int64_t n, float scale) {
    if (n <= 0) return;
#if defined(__x86_64__)
    if (muse_kernels_active() != MUSE_PATH_SCALAR) {
        softmax_avx2(x, n, scale);
        return;
    }
#endif
    muse_softmax_reference(x, n, scale);
}
