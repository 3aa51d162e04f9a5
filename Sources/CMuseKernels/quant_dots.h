// Quantized dot products and multi-row matmuls on 256-bit vectors, written once and compiled per
// instruction set: the includer defines QD_TARGET (a target attribute), QD_NAME(name) (a suffix)
// and QD_US_DOT(u, s) (8 lanes, each the sum of 4 products of unsigned u and signed s bytes).
// Every dot keeps the scalar reference's order: per block, d * lane sums fused into 8 float
// accumulators, then the 8-lane horizontal sum. Results are bit-identical on every path.

// 16 bytes of nibbles -> 32 bytes: low nibbles first (elements 0..15), then high (16..31).
QD_TARGET static inline __m256i QD_NAME(unpack_nibbles)(const uint8_t *qs) {
    const __m128i packed = _mm_loadu_si128((const __m128i *)qs);
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

QD_TARGET static inline __m256 QD_NAME(sum_us)(__m256i u, __m256i s) {
    return _mm256_cvtepi32_ps(QD_US_DOT(u, s));
}

// Signed x signed: move x's sign onto y so the unsigned x signed product can be used.
QD_TARGET static inline __m256 QD_NAME(sum_ss)(__m256i x, __m256i y) {
    return QD_NAME(sum_us)(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

QD_TARGET static inline float QD_NAME(hsum)(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

QD_TARGET static float QD_NAME(dot_q4_0_q8_0)(int64_t n, const void *w, const void *x) {
    const muse_block_q4_0 *a = w;
    const muse_block_q8_0 *b = x;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / MUSE_QK; i++) {
        const __m256 d = _mm256_set1_ps(muse_h2f(a[i].d) * muse_h2f(b[i].d));
        const __m256i qa = _mm256_sub_epi8(QD_NAME(unpack_nibbles)(a[i].qs), _mm256_set1_epi8(8));
        const __m256i qb = _mm256_loadu_si256((const __m256i *)b[i].qs);
        acc = _mm256_fmadd_ps(d, QD_NAME(sum_ss)(qa, qb), acc);
    }
    return QD_NAME(hsum)(acc);
}

QD_TARGET static float QD_NAME(dot_q4_1_q8_1)(int64_t n, const void *w, const void *x) {
    const muse_block_q4_1 *a = w;
    const muse_block_q8_1 *b = x;
    __m256 acc = _mm256_setzero_ps();
    float offsets = 0.0f;
    for (int64_t i = 0; i < n / MUSE_QK; i++) {
        offsets = fmaf(muse_h2f(a[i].m), muse_h2f(b[i].s), offsets);
        const __m256 d = _mm256_set1_ps(muse_h2f(a[i].d) * muse_h2f(b[i].d));
        const __m256i qa = QD_NAME(unpack_nibbles)(a[i].qs);
        const __m256i qb = _mm256_loadu_si256((const __m256i *)b[i].qs);
        acc = _mm256_fmadd_ps(d, QD_NAME(sum_us)(qa, qb), acc);
    }
    return QD_NAME(hsum)(acc) + offsets;
}

QD_TARGET static float QD_NAME(dot_q8_0_q8_0)(int64_t n, const void *w, const void *x) {
    const muse_block_q8_0 *a = w;
    const muse_block_q8_0 *b = x;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / MUSE_QK; i++) {
        const __m256 d = _mm256_set1_ps(muse_h2f(a[i].d) * muse_h2f(b[i].d));
        const __m256i qa = _mm256_loadu_si256((const __m256i *)a[i].qs);
        const __m256i qb = _mm256_loadu_si256((const __m256i *)b[i].qs);
        acc = _mm256_fmadd_ps(d, QD_NAME(sum_ss)(qa, qb), acc);
    }
    return QD_NAME(hsum)(acc);
}

// Multi-row matmuls: each weight block is loaded (and its nibbles unpacked) once for 4 activation
// rows, whose dots proceed side by side in the same order as the single dot above.
#define QD_ROWS 4

// Tiles of 4 activation rows (outer) x 2 weight rows (inner): each activation block is loaded once
// for 2 weight rows and each weight block unpacked once for 4 activation rows. The activation
// scales of a tile are converted once, and the 4 rows' offset sums (m * s) advance together in one
// 128-bit register, each lane its own chain in block order: bit-identical to the single dot.
#define QD_MAX_BLOCKS 128

QD_TARGET static void QD_NAME(matmul_q4_1)(int64_t n, const void *w, size_t w_row_bytes, int64_t r0, int64_t r1,
                                           const void *x, size_t x_row_bytes, int64_t nx, float *y, int64_t ldy) {
    const int64_t nb = n / MUSE_QK;
    int64_t t = 0;
    if (nb <= QD_MAX_BLOCKS) {
        float dx[QD_MAX_BLOCKS][QD_ROWS], sx[QD_MAX_BLOCKS][QD_ROWS];
        for (; t + QD_ROWS <= nx; t += QD_ROWS) {
            const muse_block_q8_1 *b[QD_ROWS];
            for (int k = 0; k < QD_ROWS; k++) b[k] = (const muse_block_q8_1 *)((const char *)x + (size_t)(t + k) * x_row_bytes);
            for (int64_t i = 0; i < nb; i++) {
                for (int k = 0; k < QD_ROWS; k++) {
                    dx[i][k] = muse_h2f(b[k][i].d);
                    sx[i][k] = muse_h2f(b[k][i].s);
                }
            }
            int64_t r = r0;
            for (; r + 2 <= r1; r += 2) {
                const muse_block_q4_1 *a0 = (const muse_block_q4_1 *)((const char *)w + (size_t)r * w_row_bytes);
                const muse_block_q4_1 *a1 = (const muse_block_q4_1 *)((const char *)a0 + w_row_bytes);
                __m256 acc0[QD_ROWS], acc1[QD_ROWS];
                for (int k = 0; k < QD_ROWS; k++) acc0[k] = acc1[k] = _mm256_setzero_ps();
                __m128 off0 = _mm_setzero_ps(), off1 = _mm_setzero_ps();
                for (int64_t i = 0; i < nb; i++) {
                    const __m128 s4 = _mm_loadu_ps(sx[i]), d4 = _mm_loadu_ps(dx[i]);
                    off0 = _mm_fmadd_ps(_mm_set1_ps(muse_h2f(a0[i].m)), s4, off0);
                    off1 = _mm_fmadd_ps(_mm_set1_ps(muse_h2f(a1[i].m)), s4, off1);
                    float d0[QD_ROWS], d1[QD_ROWS];
                    _mm_storeu_ps(d0, _mm_mul_ps(_mm_set1_ps(muse_h2f(a0[i].d)), d4));
                    _mm_storeu_ps(d1, _mm_mul_ps(_mm_set1_ps(muse_h2f(a1[i].d)), d4));
                    const __m256i qa0 = QD_NAME(unpack_nibbles)(a0[i].qs);
                    const __m256i qa1 = QD_NAME(unpack_nibbles)(a1[i].qs);
                    for (int k = 0; k < QD_ROWS; k++) {
                        const __m256i qb = _mm256_loadu_si256((const __m256i *)b[k][i].qs);
                        acc0[k] = _mm256_fmadd_ps(_mm256_set1_ps(d0[k]), QD_NAME(sum_us)(qa0, qb), acc0[k]);
                        acc1[k] = _mm256_fmadd_ps(_mm256_set1_ps(d1[k]), QD_NAME(sum_us)(qa1, qb), acc1[k]);
                    }
                }
                float o0[QD_ROWS], o1[QD_ROWS];
                _mm_storeu_ps(o0, off0);
                _mm_storeu_ps(o1, off1);
                for (int k = 0; k < QD_ROWS; k++) {
                    y[(t + k) * ldy + r] = QD_NAME(hsum)(acc0[k]) + o0[k];
                    y[(t + k) * ldy + r + 1] = QD_NAME(hsum)(acc1[k]) + o1[k];
                }
            }
            for (; r < r1; r++) {
                const muse_block_q4_1 *a = (const muse_block_q4_1 *)((const char *)w + (size_t)r * w_row_bytes);
                for (int k = 0; k < QD_ROWS; k++) y[(t + k) * ldy + r] = QD_NAME(dot_q4_1_q8_1)(n, a, b[k]);
            }
        }
    }
    for (; t < nx; t++) {
        const void *xt = (const char *)x + (size_t)t * x_row_bytes;
        for (int64_t r = r0; r < r1; r++) {
            y[t * ldy + r] = QD_NAME(dot_q4_1_q8_1)(n, (const char *)w + (size_t)r * w_row_bytes, xt);
        }
    }
}

// Q4_0 and Q8_0 share one shape: signed weights (nibbles minus 8, or bytes) times Q8_0 rows.
#define QD_MATMUL_SIGNED(FN, BLOCK, LOAD, DOT)                                                                   \
QD_TARGET static void QD_NAME(FN)(int64_t n, const void *w, size_t w_row_bytes, int64_t r0, int64_t r1,          \
                                  const void *x, size_t x_row_bytes, int64_t nx, float *y, int64_t ldy) {        \
    const int64_t nb = n / MUSE_QK;                                                                              \
    for (int64_t r = r0; r < r1; r++) {                                                                          \
        const BLOCK *a = (const BLOCK *)((const char *)w + (size_t)r * w_row_bytes);                             \
        int64_t t = 0;                                                                                           \
        for (; t + QD_ROWS <= nx; t += QD_ROWS) {                                                                \
            const muse_block_q8_0 *b[QD_ROWS];                                                                   \
            __m256 acc[QD_ROWS];                                                                                 \
            for (int k = 0; k < QD_ROWS; k++) {                                                                  \
                b[k] = (const muse_block_q8_0 *)((const char *)x + (size_t)(t + k) * x_row_bytes);               \
                acc[k] = _mm256_setzero_ps();                                                                    \
            }                                                                                                    \
            for (int64_t i = 0; i < nb; i++) {                                                                   \
                const float dw = muse_h2f(a[i].d);                                                               \
                const __m256i qa = LOAD;                                                                         \
                const __m256i sign = _mm256_sign_epi8(qa, qa);                                                   \
                for (int k = 0; k < QD_ROWS; k++) {                                                              \
                    const __m256 d = _mm256_set1_ps(dw * muse_h2f(b[k][i].d));                                   \
                    const __m256i qb = _mm256_loadu_si256((const __m256i *)b[k][i].qs);                          \
                    const __m256 sum = QD_NAME(sum_us)(sign, _mm256_sign_epi8(qb, qa));                          \
                    acc[k] = _mm256_fmadd_ps(d, sum, acc[k]);                                                    \
                }                                                                                                \
            }                                                                                                    \
            for (int k = 0; k < QD_ROWS; k++) y[(t + k) * ldy + r] = QD_NAME(hsum)(acc[k]);                      \
        }                                                                                                        \
        for (; t < nx; t++) y[t * ldy + r] = QD_NAME(DOT)(n, a, (const char *)x + (size_t)t * x_row_bytes);     \
    }                                                                                                            \
}

QD_MATMUL_SIGNED(matmul_q4_0, muse_block_q4_0,
                 _mm256_sub_epi8(QD_NAME(unpack_nibbles)(a[i].qs), _mm256_set1_epi8(8)), dot_q4_0_q8_0)
QD_MATMUL_SIGNED(matmul_q8_0, muse_block_q8_0, _mm256_loadu_si256((const __m256i *)a[i].qs), dot_q8_0_q8_0)

#undef QD_MATMUL_SIGNED
#undef QD_ROWS
#undef QD_MAX_BLOCKS
#undef QD_TARGET
#undef QD_NAME
#undef QD_US_DOT
