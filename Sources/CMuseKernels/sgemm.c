// Single-precision matrix products for the models that keep float weights (the speech encoder and
// decoder): y[t * ldy + r] = sum_i w[r * ldw + i] * x[t * ldx + i], both operands with their
// inner dimension contiguous, as a linear layer's weight rows and its input rows are.
//
// The vector paths compute tiles of 4 weight rows by 4 (AVX-512) or 3 (AVX2) input rows with one
// accumulator per pair, lanes summed at the end. A tile at the edge repeats its last row rather
// than taking a narrower code path, so every output is the same sum whatever the tile it falls in:
// results do not depend on how many rows are multiplied at once (batch-invariant).
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

#define AVX2_T __attribute__((target("avx2,fma")))
#define AVX512_T __attribute__((target("avx2,fma,avx512f")))

AVX2_T static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Lane masks for a k that is not a multiple of 8: the first `n` lanes set.
static const int32_t tail_mask8[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

// 4 weight rows by 3 input rows.
AVX2_T static void tile_avx2(int64_t k, const float *const w[4], const float *const x[3], float out[4][3]) {
    __m256 acc[4][3];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) acc[i][j] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
        const __m256 x0 = _mm256_loadu_ps(x[0] + i), x1 = _mm256_loadu_ps(x[1] + i), x2 = _mm256_loadu_ps(x[2] + i);
        for (int r = 0; r < 4; r++) {
            const __m256 a = _mm256_loadu_ps(w[r] + i);
            acc[r][0] = _mm256_fmadd_ps(a, x0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(a, x1, acc[r][1]);
            acc[r][2] = _mm256_fmadd_ps(a, x2, acc[r][2]);
        }
    }
    if (i < k) {
        const __m256i m = _mm256_loadu_si256((const __m256i *)(tail_mask8 + 8 - (k - i)));
        const __m256 x0 = _mm256_maskload_ps(x[0] + i, m), x1 = _mm256_maskload_ps(x[1] + i, m),
                     x2 = _mm256_maskload_ps(x[2] + i, m);
        for (int r = 0; r < 4; r++) {
            const __m256 a = _mm256_maskload_ps(w[r] + i, m);
            acc[r][0] = _mm256_fmadd_ps(a, x0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(a, x1, acc[r][1]);
            acc[r][2] = _mm256_fmadd_ps(a, x2, acc[r][2]);
        }
    }
    for (int r = 0; r < 4; r++)
        for (int j = 0; j < 3; j++) out[r][j] = hsum256(acc[r][j]);
}

// 4 weight rows by 4 input rows, 16 lanes.
AVX512_T static void tile_avx512(int64_t k, const float *const w[4], const float *const x[4], float out[4][4]) {
    __m512 acc[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= k; i += 16) {
        const __m512 a0 = _mm512_loadu_ps(w[0] + i), a1 = _mm512_loadu_ps(w[1] + i),
                     a2 = _mm512_loadu_ps(w[2] + i), a3 = _mm512_loadu_ps(w[3] + i);
        for (int j = 0; j < 4; j++) {
            const __m512 b = _mm512_loadu_ps(x[j] + i);
            acc[0][j] = _mm512_fmadd_ps(a0, b, acc[0][j]);
            acc[1][j] = _mm512_fmadd_ps(a1, b, acc[1][j]);
            acc[2][j] = _mm512_fmadd_ps(a2, b, acc[2][j]);
            acc[3][j] = _mm512_fmadd_ps(a3, b, acc[3][j]);
        }
    }
    if (i < k) {
        const __mmask16 m = (__mmask16)((1u << (k - i)) - 1);
        const __m512 a0 = _mm512_maskz_loadu_ps(m, w[0] + i), a1 = _mm512_maskz_loadu_ps(m, w[1] + i),
                     a2 = _mm512_maskz_loadu_ps(m, w[2] + i), a3 = _mm512_maskz_loadu_ps(m, w[3] + i);
        for (int j = 0; j < 4; j++) {
            const __m512 b = _mm512_maskz_loadu_ps(m, x[j] + i);
            acc[0][j] = _mm512_fmadd_ps(a0, b, acc[0][j]);
            acc[1][j] = _mm512_fmadd_ps(a1, b, acc[1][j]);
            acc[2][j] = _mm512_fmadd_ps(a2, b, acc[2][j]);
            acc[3][j] = _mm512_fmadd_ps(a3, b, acc[3][j]);
        }
    }
    for (int r = 0; r < 4; r++)
        for (int j = 0; j < 4; j++) out[r][j] = _mm512_reduce_add_ps(acc[r][j]);
}

// The blocked loop around a tile of TW x TX; rows past the end repeat the last one.
#define SGEMM_LOOP(TILE, TX)                                                                              \
    for (int64_t t0 = 0; t0 < nx; t0 += SGEMM_X_BLOCK) {                                                 \
        const int64_t t1 = t0 + SGEMM_X_BLOCK < nx ? t0 + SGEMM_X_BLOCK : nx;                            \
        for (int64_t r = r0; r < r1; r += 4) {                                                           \
            const float *wr[4];                                                                          \
            for (int i = 0; i < 4; i++) wr[i] = w + (r + i < r1 ? r + i : r1 - 1) * ldw;                 \
            for (int64_t t = t0; t < t1; t += TX) {                                                      \
                const float *xr[TX];                                                                     \
                for (int j = 0; j < TX; j++) xr[j] = x + (t + j < t1 ? t + j : t1 - 1) * ldx;            \
                float out[4][TX];                                                                        \
                TILE(k, wr, xr, out);                                                                    \
                for (int i = 0; i < 4 && r + i < r1; i++)                                                \
                    for (int j = 0; j < TX && t + j < t1; j++) y[(t + j) * ldy + r + i] = out[i][j];     \
            }                                                                                            \
        }                                                                                                \
    }

static void sgemm_avx2(int64_t k, const float *w, int64_t ldw, int64_t r0, int64_t r1,
                       const float *x, int64_t ldx, int64_t nx, float *y, int64_t ldy) {
    SGEMM_LOOP(tile_avx2, 3)
}

static void sgemm_avx512(int64_t k, const float *w, int64_t ldw, int64_t r0, int64_t r1,
                         const float *x, int64_t ldx, int64_t nx, float *y, int64_t ldy) {
    SGEMM_LOOP(tile_avx512, 4)
}
#endif

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

void muse_gelu_erf(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
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

static void sgemm_kn_avx512(int64_t k, const float *wt, int64_t ldw, int64_t r0, int64_t r1,
                            const float *x, int64_t ldx, int64_t nx, float *y, int64_t ldy) {
    for (int64_t i0 = 0; i0 < k; i0 += KN_KC) {
        const int64_t i1 = i0 + KN_KC < k ? i0 + KN_KC : k;
        for (int64_t r = r0; r < r1; r += 32) {
            const int64_t left = r1 - r;
            const __mmask16 m0 = left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1);
            const __mmask16 m1 = left >= 32 ? 0xFFFF : left <= 16 ? 0 : (__mmask16)((1u << (left - 16)) - 1);
            for (int64_t t = 0; t < nx; t += 6) {
                const float *xt = x + t * ldx;
                float *yt = y + t * ldy + r;
                switch (nx - t >= 6 ? 6 : nx - t) {
                case 6: kn_tile512_6(i0, i1, i0 == 0, wt + r, ldw, xt, ldx, yt, ldy, m0, m1); break;
                case 5: kn_tile512_5(i0, i1, i0 == 0, wt + r, ldw, xt, ldx, yt, ldy, m0, m1); break;
                case 4: kn_tile512_4(i0, i1, i0 == 0, wt + r, ldw, xt, ldx, yt, ldy, m0, m1); break;
                case 3: kn_tile512_3(i0, i1, i0 == 0, wt + r, ldw, xt, ldx, yt, ldy, m0, m1); break;
                case 2: kn_tile512_2(i0, i1, i0 == 0, wt + r, ldw, xt, ldx, yt, ldy, m0, m1); break;
                default: kn_tile512_1(i0, i1, i0 == 0, wt + r, ldw, xt, ldx, yt, ldy, m0, m1); break;
                }
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

AVX2_T static __m256i lanes_below(int64_t n) {
    const int64_t c = n < 0 ? 0 : n > 8 ? 8 : n;
    return _mm256_loadu_si256((const __m256i *)(tail_mask8 + 8 - c));
}

AVX2_T static void sgemm_kn_avx2(int64_t k, const float *wt, int64_t ldw, int64_t r0, int64_t r1,
                                 const float *x, int64_t ldx, int64_t nx, float *y, int64_t ldy) {
    for (int64_t i0 = 0; i0 < k; i0 += KN_KC) {
        const int64_t i1 = i0 + KN_KC < k ? i0 + KN_KC : k;
        for (int64_t r = r0; r < r1; r += 16) {
            const __m256i m0 = lanes_below(r1 - r), m1 = lanes_below(r1 - r - 8);
            for (int64_t t = 0; t < nx; t += 6) {
                const float *xt = x + t * ldx;
                float *yt = y + t * ldy + r;
                switch (nx - t >= 6 ? 6 : nx - t) {
                case 6: kn_tile256_6(i0, i1, i0 == 0, wt + r, ldw, xt, ldx, yt, ldy, m0, m1); break;
                case 5: kn_tile256_5(i0, i1, i0 == 0, wt + r, ldw, xt, ldx, yt, ldy, m0, m1); break;
                case 4: kn_tile256_4(i0, i1, i0 == 0, wt + r, ldw, xt, ldx, yt, ldy, m0, m1); break;
                case 3: kn_tile256_3(i0, i1, i0 == 0, wt + r, ldw, xt, ldx, yt, ldy, m0, m1); break;
                case 2: kn_tile256_2(i0, i1, i0 == 0, wt + r, ldw, xt, ldx, yt, ldy, m0, m1); break;
                default: kn_tile256_1(i0, i1, i0 == 0, wt + r, ldw, xt, ldx, yt, ldy, m0, m1); break;
                }
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
        const __m256 e = muse_expf_ggml_avx2(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vtop), vscale));
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
