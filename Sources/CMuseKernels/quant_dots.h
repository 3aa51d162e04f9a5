// Quantized dot products and multi-row matmuls on 256-bit vectors, written once and compiled per
// instruction set: the includer defines QD_TARGET (a target attribute), QD_NAME(name) (a suffix)
// and QD_US_DOT(u, s) (8 lanes, each the sum of 4 products of unsigned u and signed s bytes).
// Optionally QD_WS_DOT_ACC(acc, a, b): acc plus the 8 lane sums of pairs of 16-bit products
// (default: madd then add; VNNI's dpwssd fuses the two), QD_US_DOT_ACC(acc, u, s) (acc plus
// QD_US_DOT), QD_Q5_ADD16 (see below) and QD_TILE_W / QD_TILE_X (the Q4_0 and Q5_0 matmul tile).
// Every dot keeps the scalar reference's order: for 32-element blocks, per block, d * lane sums
// fused into 8 float accumulators, then the 8-lane horizontal sum; for K-quants, one exact integer
// per superblock and fused multiply-adds in superblock order. Results are bit-identical on every path.

#ifndef QD_WS_DOT_ACC
#define QD_WS_DOT_ACC(acc, a, b) _mm256_add_epi32((acc), _mm256_madd_epi16((a), (b)))
#endif

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

// fp16 -> f32 in hardware: the same value as the lookup table, without its cache footprint. The
// empty asm makes the compiler build the whole vector (movd) rather than insert the half into
// whatever register is at hand, often a loop's accumulator, which would chain every iteration to
// the previous one's fused multiply-add.
QD_TARGET static inline float QD_NAME(h2f)(uint16_t h) {
    __m128i v = _mm_cvtsi32_si128(h);
    __asm__("" : "+x"(v));
    return _mm_cvtss_f32(_mm_cvtph_ps(v));
}

// The fifth bits of a Q5 block as bytes: 0xFF for element e if bit e of qh is set, else 0.
QD_TARGET static inline __m256i QD_NAME(q5_high_bits)(const uint8_t *qh) {
    uint32_t bits;
    memcpy(&bits, qh, 4);
    // Byte e gets qh[e / 8], then keeps bit e % 8.
    const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits),
        _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0));
    const __m256i select = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    return _mm256_cmpeq_epi8(_mm256_and_si256(spread, select), select);
}

// Q5_0's signed quants q - 16: where the fifth bit is clear, nibble | 0xF0 is the nibble minus 16.
QD_TARGET static inline __m256i QD_NAME(unpack_q5_0)(const muse_block_q5_0 *blk) {
    const __m256i high = QD_NAME(q5_high_bits)(blk->qh);
    return _mm256_or_si256(QD_NAME(unpack_nibbles)(blk->qs), _mm256_andnot_si256(high, _mm256_set1_epi8((char)0xF0)));
}

// Q5_1's unsigned quants 0..31.
QD_TARGET static inline __m256i QD_NAME(unpack_q5_1)(const muse_block_q5_1 *blk) {
    const __m256i high = QD_NAME(q5_high_bits)(blk->qh);
    return _mm256_or_si256(QD_NAME(unpack_nibbles)(blk->qs), _mm256_and_si256(high, _mm256_set1_epi8(0x10)));
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

QD_TARGET static float QD_NAME(dot_q5_0_q8_0)(int64_t n, const void *w, const void *x) {
    const muse_block_q5_0 *a = w;
    const muse_block_q8_0 *b = x;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / MUSE_QK; i++) {
        const __m256 d = _mm256_set1_ps(muse_h2f(a[i].d) * muse_h2f(b[i].d));
        const __m256i qa = QD_NAME(unpack_q5_0)(&a[i]);
        const __m256i qb = _mm256_loadu_si256((const __m256i *)b[i].qs);
        acc = _mm256_fmadd_ps(d, QD_NAME(sum_ss)(qa, qb), acc);
    }
    return QD_NAME(hsum)(acc);
}

QD_TARGET static float QD_NAME(dot_q5_1_q8_1)(int64_t n, const void *w, const void *x) {
    const muse_block_q5_1 *a = w;
    const muse_block_q8_1 *b = x;
    __m256 acc = _mm256_setzero_ps();
    float offsets = 0.0f;
    for (int64_t i = 0; i < n / MUSE_QK; i++) {
        offsets = fmaf(muse_h2f(a[i].m), muse_h2f(b[i].s), offsets);
        const __m256 d = _mm256_set1_ps(muse_h2f(a[i].d) * muse_h2f(b[i].d));
        const __m256i qa = QD_NAME(unpack_q5_1)(&a[i]);
        const __m256i qb = _mm256_loadu_si256((const __m256i *)b[i].qs);
        acc = _mm256_fmadd_ps(d, QD_NAME(sum_us)(qa, qb), acc);
    }
    return QD_NAME(hsum)(acc) + offsets;
}

#define QD_INLINE QD_TARGET static inline __attribute__((always_inline))

// Multi-row matmuls: each weight block is loaded (and its nibbles unpacked) once for 4 activation
// rows, whose dots proceed side by side in the same order as the single dot above.
#define QD_ROWS 4

// Tiles of 4 activation rows (outer) x 2 weight rows (inner): each activation block is loaded once
// for 2 weight rows and each weight block unpacked once for 4 activation rows. The activation
// scales of a tile are converted once, and the 4 rows' offset sums (m * s) advance together in one
// 128-bit register, each lane its own chain in block order: bit-identical to the single dot.
// One shape for Q4_1 and Q5_1 (unsigned quants, LOAD unpacks a block, times Q8_1 rows).
#define QD_MAX_BLOCKS 128

#define QD_MATMUL_OFFSET(FN, BLOCK, LOAD, DOT)                                                                                   \
QD_TARGET static void QD_NAME(FN)(int64_t n, const void *w, size_t w_row_bytes, int64_t r0, int64_t r1,                          \
                                  const void *x, size_t x_row_bytes, int64_t nx, float *y, int64_t ldy) {                        \
    const int64_t nb = n / MUSE_QK;                                                                                              \
    int64_t t = 0;                                                                                                               \
    if (nb <= QD_MAX_BLOCKS) {                                                                                                   \
        float dx[QD_MAX_BLOCKS][QD_ROWS], sx[QD_MAX_BLOCKS][QD_ROWS];                                                            \
        for (; t + QD_ROWS <= nx; t += QD_ROWS) {                                                                                \
            const muse_block_q8_1 *b[QD_ROWS];                                                                                   \
            for (int k = 0; k < QD_ROWS; k++) b[k] = (const muse_block_q8_1 *)((const char *)x + (size_t)(t + k) * x_row_bytes); \
            for (int64_t i = 0; i < nb; i++) {                                                                                   \
                for (int k = 0; k < QD_ROWS; k++) {                                                                              \
                    dx[i][k] = muse_h2f(b[k][i].d);                                                                              \
                    sx[i][k] = muse_h2f(b[k][i].s);                                                                              \
                }                                                                                                                \
            }                                                                                                                    \
            int64_t r = r0;                                                                                                      \
            for (; r + 2 <= r1; r += 2) {                                                                                        \
                const BLOCK *a0 = (const BLOCK *)((const char *)w + (size_t)r * w_row_bytes);                                    \
                const BLOCK *a1 = (const BLOCK *)((const char *)a0 + w_row_bytes);                                               \
                __m256 acc0[QD_ROWS], acc1[QD_ROWS];                                                                             \
                for (int k = 0; k < QD_ROWS; k++) acc0[k] = acc1[k] = _mm256_setzero_ps();                                       \
                __m128 off0 = _mm_setzero_ps(), off1 = _mm_setzero_ps();                                                         \
                for (int64_t i = 0; i < nb; i++) {                                                                               \
                    const __m128 s4 = _mm_loadu_ps(sx[i]), d4 = _mm_loadu_ps(dx[i]);                                             \
                    off0 = _mm_fmadd_ps(_mm_set1_ps(muse_h2f(a0[i].m)), s4, off0);                                               \
                    off1 = _mm_fmadd_ps(_mm_set1_ps(muse_h2f(a1[i].m)), s4, off1);                                               \
                    float d0[QD_ROWS], d1[QD_ROWS];                                                                              \
                    _mm_storeu_ps(d0, _mm_mul_ps(_mm_set1_ps(muse_h2f(a0[i].d)), d4));                                           \
                    _mm_storeu_ps(d1, _mm_mul_ps(_mm_set1_ps(muse_h2f(a1[i].d)), d4));                                           \
                    const __m256i qa0 = LOAD(&a0[i]);                                                                            \
                    const __m256i qa1 = LOAD(&a1[i]);                                                                            \
                    for (int k = 0; k < QD_ROWS; k++) {                                                                          \
                        const __m256i qb = _mm256_loadu_si256((const __m256i *)b[k][i].qs);                                      \
                        acc0[k] = _mm256_fmadd_ps(_mm256_set1_ps(d0[k]), QD_NAME(sum_us)(qa0, qb), acc0[k]);                     \
                        acc1[k] = _mm256_fmadd_ps(_mm256_set1_ps(d1[k]), QD_NAME(sum_us)(qa1, qb), acc1[k]);                     \
                    }                                                                                                            \
                }                                                                                                                \
                float o0[QD_ROWS], o1[QD_ROWS];                                                                                  \
                _mm_storeu_ps(o0, off0);                                                                                         \
                _mm_storeu_ps(o1, off1);                                                                                         \
                for (int k = 0; k < QD_ROWS; k++) {                                                                              \
                    y[(t + k) * ldy + r] = QD_NAME(hsum)(acc0[k]) + o0[k];                                                       \
                    y[(t + k) * ldy + r + 1] = QD_NAME(hsum)(acc1[k]) + o1[k];                                                   \
                }                                                                                                                \
            }                                                                                                                    \
            for (; r < r1; r++) {                                                                                                \
                const BLOCK *a = (const BLOCK *)((const char *)w + (size_t)r * w_row_bytes);                                     \
                for (int k = 0; k < QD_ROWS; k++) y[(t + k) * ldy + r] = QD_NAME(DOT)(n, a, b[k]);                               \
            }                                                                                                                    \
        }                                                                                                                        \
    }                                                                                                                            \
    for (; t < nx; t++) {                                                                                                        \
        const void *xt = (const char *)x + (size_t)t * x_row_bytes;                                                              \
        for (int64_t r = r0; r < r1; r++) {                                                                                      \
            y[t * ldy + r] = QD_NAME(DOT)(n, (const char *)w + (size_t)r * w_row_bytes, xt);                                     \
        }                                                                                                                        \
    }                                                                                                                            \
}

QD_TARGET static inline __m256i QD_NAME(unpack_q4_1)(const muse_block_q4_1 *blk) { return QD_NAME(unpack_nibbles)(blk->qs); }

QD_MATMUL_OFFSET(matmul_q4_1, muse_block_q4_1, QD_NAME(unpack_q4_1), dot_q4_1_q8_1)
QD_MATMUL_OFFSET(matmul_q5_1, muse_block_q5_1, QD_NAME(unpack_q5_1), dot_q5_1_q8_1)

#undef QD_MATMUL_OFFSET

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

QD_MATMUL_SIGNED(matmul_q4_0_rows, muse_block_q4_0,
                 _mm256_sub_epi8(QD_NAME(unpack_nibbles)(a[i].qs), _mm256_set1_epi8(8)), dot_q4_0_q8_0)
QD_MATMUL_SIGNED(matmul_q8_0, muse_block_q8_0, _mm256_loadu_si256((const __m256i *)a[i].qs), dot_q8_0_q8_0)
QD_MATMUL_SIGNED(matmul_q5_0_rows, muse_block_q5_0, QD_NAME(unpack_q5_0)(&a[i]), dot_q5_0_q8_0)

// Q4_0 and Q5_0 in tiles of QD_TILE_W weight rows x QD_TILE_X activation rows, for prompts. The
// weights are taken unsigned (q + OFFSET: the bare nibbles, with Q5_0's fifth bit as 16), so one
// unsigned x signed dot per pair needs no sign moves; each lane's integer is then
// sum(u * x) - OFFSET * sum(x), exactly the single dot's sum(q * x), with the second term computed
// once per activation block and tile and used as the dot's starting value. The scales d = dw * dx
// and the float steps are the single dot's, block by block: the same bits.
// Weight rows go in chunks (QD_TILE_UNPACKED blocks) that are unpacked once, with their scales
// converted, into a stack buffer; every activation tile then reads them from L1 as they are.
#ifndef QD_TILE_W
#define QD_TILE_W 2
#define QD_TILE_X 4
#endif
#define QD_TILE_UNPACKED 512
#define QD_TILE_MAX_BLOCKS 128
_Static_assert(QD_TILE_UNPACKED / QD_TILE_MAX_BLOCKS >= QD_TILE_W, "a chunk holds at least one tile of rows");

#ifndef QD_US_DOT_ACC
#define QD_US_DOT_ACC(acc, u, s) _mm256_add_epi32((acc), QD_US_DOT((u), (s)))
// The byte dot is maddubs, whose 16-bit pair sums would saturate on unsigned bytes up to 255.
#define QD_SATURATING_PAIRS 1
#endif
#ifndef QD_Q5_ADD16
// v + 16 in the bytes whose bit of the 32-bit qh is set (v's bytes are below 16).
#define QD_Q5_ADD16(v, qh) _mm256_or_si256((v), _mm256_and_si256(QD_NAME(q5_high_bits)(qh), _mm256_set1_epi8(0x10)))
#endif

QD_INLINE __m256i QD_NAME(unsigned_q4_0)(const muse_block_q4_0 *blk) { return QD_NAME(unpack_nibbles)(blk->qs); }
QD_INLINE __m256i QD_NAME(unsigned_q5_0)(const muse_block_q5_0 *blk) { return QD_Q5_ADD16(QD_NAME(unpack_nibbles)(blk->qs), blk->qh); }

// R unpacked weight rows (wu[r * nb + i], scales wd[(i * ldw + r) * 4], 4 copies each) x C
// activation rows (scales dx[i][k], offset starts off[i][k], quants b[k]): y[k * ldy + r].
QD_INLINE void QD_NAME(tile_q8_0)(const int R, const int C, int64_t nb, const __m256i *wu, const float *wd, int64_t ldw,
                                  const muse_block_q8_0 *const *b, const float (*dx)[QD_TILE_X],
                                  const __m256i (*off)[QD_TILE_X], float *y, int64_t ldy) {
    __m256 acc[QD_TILE_W][QD_TILE_X];
    for (int r = 0; r < R; r++) for (int k = 0; k < C; k++) acc[r][k] = _mm256_setzero_ps();
    // The pair scales dw * dx, 4 at a time, stored and read back as broadcasts from memory (a
    // load, no shuffle); the empty asm hides that the reads come from the stores.
    float dd[QD_TILE_W][QD_TILE_X] __attribute__((aligned(16)));
    for (int64_t i = 0; i < nb; i++) {
        for (int r = 0; r < R; r++) {
            const float *dw = wd + (i * ldw + r) * 4;
            if (C % 4 == 0) {
                for (int k = 0; k < C; k += 4) _mm_store_ps(&dd[r][k], _mm_mul_ps(_mm_load_ps(dw), _mm_loadu_ps(&dx[i][k])));
            } else {
                for (int k = 0; k < C; k++) dd[r][k] = dw[0] * dx[i][k];
            }
        }
        const float (*d)[QD_TILE_X] = dd;
        __asm__("" : "+r"(d));
        for (int r = 0; r < R; r++) {
            const __m256i u = _mm256_load_si256(wu + r * nb + i);
            for (int k = 0; k < C; k++) {
                const __m256i s = QD_US_DOT_ACC(off[i][k], u, _mm256_loadu_si256((const __m256i *)b[k][i].qs));
                acc[r][k] = _mm256_fmadd_ps(_mm256_set1_ps(d[r][k]), _mm256_cvtepi32_ps(s), acc[r][k]);
            }
        }
    }
    for (int k = 0; k < C; k++) for (int r = 0; r < R; r++) y[k * ldy + r] = QD_NAME(hsum)(acc[r][k]);
}

#define QD_TILE(T, BLOCK)                                                                                       \
QD_TARGET static void QD_NAME(matmul_##T)(int64_t n, const void *w, size_t w_row_bytes, int64_t r0, int64_t r1, \
                                          const void *x, size_t x_row_bytes, int64_t nx, float *y, int64_t ldy) { \
    const int64_t nb = n / MUSE_QK;                                                                             \
    if (nb > QD_TILE_MAX_BLOCKS) {                                                                              \
        QD_NAME(matmul_##T##_rows)(n, w, w_row_bytes, r0, r1, x, x_row_bytes, nx, y, ldy);                      \
        return;                                                                                                 \
    }                                                                                                           \
    __m256i wu[QD_TILE_UNPACKED];                                                                               \
    float wd[QD_TILE_UNPACKED * 4] __attribute__((aligned(16)));                                                \
    float dx[QD_TILE_MAX_BLOCKS][QD_TILE_X];                                                                    \
    __m256i off[QD_TILE_MAX_BLOCKS][QD_TILE_X];                                                                 \
    const __m256i offset = _mm256_set1_epi8(T##_OFFSET);                                                        \
    /* Rows per chunk: as many whole tiles as the buffer holds. */                                            \
    const int64_t chunk = QD_TILE_UNPACKED / nb / QD_TILE_W * QD_TILE_W;                                        \
    for (int64_t c0 = r0; c0 < r1; c0 += chunk) {                                                               \
        const int64_t rows = r1 - c0 < chunk ? r1 - c0 : chunk;                                                 \
        for (int64_t r = 0; r < rows; r++) {                                                                    \
            const BLOCK *a = (const BLOCK *)((const char *)w + (size_t)(c0 + r) * w_row_bytes);                 \
            for (int64_t i = 0; i < nb; i++) {                                                                  \
                _mm256_store_si256(wu + r * nb + i, QD_NAME(unsigned_##T)(&a[i]));                              \
                _mm_store_ps(wd + (i * rows + r) * 4, _mm_set1_ps(QD_NAME(h2f)(a[i].d)));                       \
            }                                                                                                   \
        }                                                                                                       \
        for (int64_t t = 0; t < nx; t += QD_TILE_X) {                                                           \
            const int C = nx - t < QD_TILE_X ? (int)(nx - t) : QD_TILE_X;                                       \
            const muse_block_q8_0 *b[QD_TILE_X];                                                                \
            for (int k = 0; k < C; k++) {                                                                       \
                b[k] = (const muse_block_q8_0 *)((const char *)x + (size_t)(t + k) * x_row_bytes);              \
                for (int64_t i = 0; i < nb; i++) {                                                              \
                    dx[i][k] = QD_NAME(h2f)(b[k][i].d);                                                         \
                    const __m256i qb = _mm256_loadu_si256((const __m256i *)b[k][i].qs);                         \
                    off[i][k] = _mm256_sub_epi32(_mm256_setzero_si256(), QD_US_DOT(offset, qb));                \
                }                                                                                               \
            }                                                                                                   \
            float *yt = y + t * ldy + c0;                                                                       \
            int64_t r = 0;                                                                                      \
            if (C == QD_TILE_X) {                                                                               \
                for (; r + QD_TILE_W <= rows; r += QD_TILE_W) {                                                 \
                    QD_NAME(tile_q8_0)(QD_TILE_W, QD_TILE_X, nb, wu + r * nb, wd + r * 4, rows, b, dx, off, yt + r, ldy); \
                }                                                                                               \
                for (; r < rows; r++) {                                                                         \
                    QD_NAME(tile_q8_0)(1, QD_TILE_X, nb, wu + r * nb, wd + r * 4, rows, b, dx, off, yt + r, ldy); \
                }                                                                                               \
            } else {                                                                                            \
                /* The last activation rows, one at a time (their precomputed columns k < C). */              \
                for (int k = 0; k < C; k++) {                                                                   \
                    const float (*dxk)[QD_TILE_X] = (const float (*)[QD_TILE_X])&dx[0][k];                      \
                    const __m256i (*offk)[QD_TILE_X] = (const __m256i (*)[QD_TILE_X])&off[0][k];                \
                    for (r = 0; r + QD_TILE_W <= rows; r += QD_TILE_W) {                                        \
                        QD_NAME(tile_q8_0)(QD_TILE_W, 1, nb, wu + r * nb, wd + r * 4, rows, b + k, dxk, offk, yt + k * ldy + r, ldy); \
                    }                                                                                           \
                    for (; r < rows; r++) {                                                                     \
                        QD_NAME(tile_q8_0)(1, 1, nb, wu + r * nb, wd + r * 4, rows, b + k, dxk, offk, yt + k * ldy + r, ldy); \
                    }                                                                                           \
                }                                                                                               \
            }                                                                                                   \
        }                                                                                                       \
    }                                                                                                           \
}

#define q4_0_OFFSET 8
#define q5_0_OFFSET 16
QD_TILE(q4_0, muse_block_q4_0)
QD_TILE(q5_0, muse_block_q5_0)
#undef QD_TILE

// Q4_0 and Q5_0 in block order (scalar.c's *_blocks dots): per block one exact integer,
// sum(u * x) - OFFSET * sum(x) with u the unsigned quants, then acc = fma(dw * dx, sum, acc) in
// block order. Integers are exact whatever the lane layout, so the kernels below reduce them
// however suits them and still give the reference's bits, alone or in any batch.

// The lane sums of 8 vectors as the 8 lanes of one, in order.
QD_INLINE __m256i QD_NAME(hsum8_i32)(const __m256i s[8]) {
    // a = [sums of s0..s3 over lanes 0-3 | the same over lanes 4-7], b likewise for s4..s7.
    const __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(s[0], s[1]), _mm256_hadd_epi32(s[2], s[3]));
    const __m256i b = _mm256_hadd_epi32(_mm256_hadd_epi32(s[4], s[5]), _mm256_hadd_epi32(s[6], s[7]));
    return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}

// 8 rows of 8 32-bit words to 8 columns: v[g] word l = r[l] word g.
QD_INLINE void QD_NAME(transpose8_i32)(const __m256i r[8], __m256i v[8]) {
    __m256i t[8], u[8];
    for (int j = 0; j < 4; j++) {
        t[2 * j] = _mm256_unpacklo_epi32(r[2 * j], r[2 * j + 1]);
        t[2 * j + 1] = _mm256_unpackhi_epi32(r[2 * j], r[2 * j + 1]);
    }
    for (int j = 0; j < 2; j++) {
        u[4 * j] = _mm256_unpacklo_epi64(t[4 * j], t[4 * j + 2]);
        u[4 * j + 1] = _mm256_unpackhi_epi64(t[4 * j], t[4 * j + 2]);
        u[4 * j + 2] = _mm256_unpacklo_epi64(t[4 * j + 1], t[4 * j + 3]);
        u[4 * j + 3] = _mm256_unpackhi_epi64(t[4 * j + 1], t[4 * j + 3]);
    }
    for (int g = 0; g < 4; g++) {
        v[g] = _mm256_permute2x128_si256(u[g], u[g + 4], 0x20);
        v[g + 4] = _mm256_permute2x128_si256(u[g], u[g + 4], 0x31);
    }
}

// The first R lanes of v to y (all 8 in one store).
QD_INLINE void QD_NAME(store_lanes)(float *y, __m256 v, int R) {
    if (R == 8) {
        _mm256_storeu_ps(y, v);
        return;
    }
    float out[8];
    _mm256_storeu_ps(out, v);
    for (int l = 0; l < R; l++) y[l] = out[l];
}

// sum(x) of a Q8_0 block, exactly: the bytes biased to unsigned, summed in 8-byte groups (sad).
QD_INLINE int32_t QD_NAME(q8_0_sum)(const muse_block_q8_0 *blk) {
    const __m256i u = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)blk->qs), _mm256_set1_epi8((char)0x80));
    const __m256i s = _mm256_sad_epu8(u, _mm256_setzero_si256());
    const __m128i h = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    return (int32_t)(_mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1)) - 32 * 128;
}

// sum(q) of 32 signed bytes, exactly: biased to unsigned and summed in 8-byte groups (sad).
QD_INLINE int32_t QD_NAME(qs_sum)(const int8_t *qs) {
    const __m256i u = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)qs), _mm256_set1_epi8((char)0x80));
    const __m256i s = _mm256_sad_epu8(u, _mm256_setzero_si256());
    const __m128i h = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    return (int32_t)(_mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1)) - 32 * 128;
}

// The nibble types' 4 quant vectors as 8: low nibbles are groups 0..3, high nibbles 4..7.
QD_INLINE void QD_NAME(packed_nibbles)(const uint8_t *qs, __m256i u[8]) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int j = 0; j < 4; j++) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * j));
        u[j] = _mm256_and_si256(v, m4);
        u[j + 4] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
    }
}

// Q5_0's fifth bits: bit g of each byte moved to bit 4 of group g's byte (16-bit shifts; the mask
// drops what crosses bytes).
QD_INLINE void QD_NAME(packed_fifth)(const uint8_t *qh, __m256i u[8]) {
    const __m256i h = _mm256_loadu_si256((const __m256i *)qh), bit = _mm256_set1_epi8(0x10);
    u[0] = _mm256_or_si256(u[0], _mm256_and_si256(_mm256_slli_epi16(h, 4), bit));
    u[1] = _mm256_or_si256(u[1], _mm256_and_si256(_mm256_slli_epi16(h, 3), bit));
    u[2] = _mm256_or_si256(u[2], _mm256_and_si256(_mm256_slli_epi16(h, 2), bit));
    u[3] = _mm256_or_si256(u[3], _mm256_and_si256(_mm256_slli_epi16(h, 1), bit));
    u[4] = _mm256_or_si256(u[4], _mm256_and_si256(h, bit));
    u[5] = _mm256_or_si256(u[5], _mm256_and_si256(_mm256_srli_epi16(h, 1), bit));
    u[6] = _mm256_or_si256(u[6], _mm256_and_si256(_mm256_srli_epi16(h, 2), bit));
    u[7] = _mm256_or_si256(u[7], _mm256_and_si256(_mm256_srli_epi16(h, 3), bit));
}

// Each type's group-block as 8 vectors of unsigned quants u (the integer is sum(u * x) -
// OFFSET * sum(x)); Q8_0 where maddubs would saturate keeps its signed bytes (OFFSET 0) and moves
// their signs onto x instead, as ggml does.
#define q4_0_PACK_OFFSET 8
#define q4_1_PACK_OFFSET 0
#define q5_0_PACK_OFFSET 16
#define QD_PACKED_UNPACK_q4_0(blk, u) QD_NAME(packed_nibbles)((blk) + 16, (u))
#define QD_PACKED_UNPACK_q4_1(blk, u) QD_NAME(packed_nibbles)((blk) + 32, (u))
#define QD_PACKED_UNPACK_q5_0(blk, u) (QD_NAME(packed_nibbles)((blk) + 48, (u)), QD_NAME(packed_fifth)((blk) + 16, (u)))
#define QD_PACKED_DOT_UNSIGNED(s, u, a, g, x) QD_US_DOT_ACC((s), (u)[g], (x))
#define QD_PACKED_DOT_q4_0 QD_PACKED_DOT_UNSIGNED
#define QD_PACKED_DOT_q4_1 QD_PACKED_DOT_UNSIGNED
#define QD_PACKED_DOT_q5_0 QD_PACKED_DOT_UNSIGNED
#ifdef QD_SATURATING_PAIRS
#define q8_0_PACK_OFFSET 0
#define QD_PACKED_UNPACK_q8_0(blk, u)                                                                    \
    for (int g = 0; g < 8; g++) {                                                                       \
        u[g] = _mm256_loadu_si256((const __m256i *)((blk) + 16 + 32 * g));                              \
        a[g] = _mm256_sign_epi8(u[g], u[g]);                                                            \
    }
#define QD_PACKED_DOT_q8_0(s, u, a, g, x) _mm256_add_epi32((s), QD_US_DOT((a)[g], _mm256_sign_epi8((x), (u)[g])))
#else
#define q8_0_PACK_OFFSET 128
#define QD_PACKED_UNPACK_q8_0(blk, u)                                                                   \
    for (int g = 0; g < 8; g++) u[g] = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)((blk) + 16 + 32 * g)), _mm256_set1_epi8((char)0x80));
#define QD_PACKED_DOT_q8_0 QD_PACKED_DOT_UNSIGNED
#endif

#ifndef QD_BLOCK_X
#define QD_BLOCK_X 4
#endif
// Unpacked row-blocks per chunk of the prompt kernel (64 KiB), and the longest row it takes.
#define QD_BLOCK_CHUNK 2048
#define QD_BLOCK_MAX 128

// Few activation rows (decoding), or rows too long for the prompt kernel: 8 weight rows at a time,
// each block unpacked once for all activation rows; per activation row the 8 rows' integers are
// reduced into one vector of 8 and scaled with one fused multiply-add.
#define QD_BLOCKS_DIRECT(T, BLOCK)                                                                              \
QD_TARGET static void QD_NAME(matmul_##T##_direct)(int64_t n, const void *w, size_t w_row_bytes, int64_t r0, int64_t r1, \
                                                   const void *x, size_t x_row_bytes, int64_t nx, float *y, int64_t ldy) { \
    const int64_t nb = n / MUSE_QK;                                                                             \
    const __m256i offset = _mm256_set1_epi8(T##_OFFSET);                                                        \
    for (int64_t r = r0; r < r1; r += 8) {                                                                      \
        const int R = r1 - r < 8 ? (int)(r1 - r) : 8;                                                           \
        const BLOCK *a[8];                                                                                      \
        /* Lanes past the last row repeat it; they are never stored. */                                        \
        for (int l = 0; l < 8; l++) a[l] = (const BLOCK *)((const char *)w + (size_t)(r + (l < R ? l : R - 1)) * w_row_bytes); \
        const char *next = (const char *)w + (size_t)(r + 8) * w_row_bytes;                                    \
        /* Whole cache lines per block, so that the blocks cover the next 8 rows. */                         \
        const size_t step = (8 * w_row_bytes + (size_t)nb * 64 - 1) / ((size_t)nb * 64) * 64;                   \
        for (int64_t t0 = 0; t0 < nx; t0 += QD_BLOCK_X) {                                                       \
            const int C = nx - t0 < QD_BLOCK_X ? (int)(nx - t0) : QD_BLOCK_X;                                   \
            const muse_block_q8_0 *b[QD_BLOCK_X];                                                               \
            __m256 acc[QD_BLOCK_X];                                                                             \
            for (int k = 0; k < C; k++) {                                                                       \
                b[k] = (const muse_block_q8_0 *)((const char *)x + (size_t)(t0 + k) * x_row_bytes);             \
                acc[k] = _mm256_setzero_ps();                                                                   \
            }                                                                                                   \
            for (int64_t i = 0; i < nb; i++) {                                                                  \
                __m256i u[8];                                                                                   \
                /* Eight rows read side by side defeat the hardware prefetcher: the next 8 rows */            \
                /* (contiguous) are fetched by hand, a share per block. */                                     \
                for (size_t p = step * (size_t)i; p < step * (size_t)(i + 1); p += 64) _mm_prefetch(next + p, _MM_HINT_T0); \
                for (int l = 0; l < 8; l++) u[l] = QD_NAME(unsigned_##T)(&a[l][i]);                             \
                const __m256 dw = _mm256_cvtph_ps(_mm_setr_epi16((short)a[0][i].d, (short)a[1][i].d, (short)a[2][i].d, \
                    (short)a[3][i].d, (short)a[4][i].d, (short)a[5][i].d, (short)a[6][i].d, (short)a[7][i].d));   \
                for (int k = 0; k < C; k++) {                                                                   \
                    const __m256i qx = _mm256_loadu_si256((const __m256i *)b[k][i].qs);                         \
                    const __m256i start = _mm256_sub_epi32(_mm256_setzero_si256(), QD_US_DOT(offset, qx));      \
                    __m256i s[8];                                                                               \
                    for (int l = 0; l < 8; l++) s[l] = QD_US_DOT_ACC(start, u[l], qx);                          \
                    const __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(QD_NAME(h2f)(b[k][i].d)));                \
                    acc[k] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(QD_NAME(hsum8_i32)(s)), acc[k]);             \
                }                                                                                               \
            }                                                                                                   \
            for (int k = 0; k < C; k++) QD_NAME(store_lanes)(y + (t0 + k) * ldy + r, acc[k], R);                \
        }                                                                                                       \
    }                                                                                                           \
}

// Prompts: weight rows in chunks of groups of 8, each group's block i unpacked once and transposed
// to 8 vectors whose lane l holds 4 consecutive quants of row l. A tile of activation rows then
// walks the chunk from L1/L2: per block and activation row, 8 byte dots against that row's
// quants broadcast 4 at a time give the 8 rows' integers directly in the lanes, and one fused
// multiply-add scales them. No horizontal sums, no shuffles in the inner loop.
#define QD_BLOCKS(T, BLOCK)                                                                                     \
QD_BLOCKS_DIRECT(T, BLOCK)                                                                                      \
QD_TARGET static float QD_NAME(dot_##T##_q8_0_blocks)(int64_t n, const void *w, const void *x) {               \
    float y;                                                                                                    \
    QD_NAME(matmul_##T##_direct)(n, w, 0, 0, 1, x, 0, 1, &y, 1);                                                \
    return y;                                                                                                   \
}                                                                                                               \
/* The rows from w, or from packed weights (packed non-NULL, r0 a multiple of 8), nx >= QD_BLOCK_X. */     \
QD_TARGET static void QD_NAME(matmul_##T##_blocks_from)(int64_t n, const void *w, size_t w_row_bytes, const uint8_t *packed, \
                                                        int64_t r0, int64_t r1,                                 \
                                                        const void *x, size_t x_row_bytes, int64_t nx, float *y, int64_t ldy) { \
    const int64_t nb = n / MUSE_QK;                                                                             \
    __m256i wu[QD_BLOCK_CHUNK];                                                                                 \
    __m256 wd[QD_BLOCK_CHUNK / 8];                                                                              \
    float dx[QD_BLOCK_MAX][QD_BLOCK_X];                                                                         \
    int32_t off[QD_BLOCK_MAX][QD_BLOCK_X];                                                                      \
    const int64_t chunk = QD_BLOCK_CHUNK / 8 / nb * 8;                                                          \
    for (int64_t c0 = r0; c0 < r1; c0 += chunk) {                                                               \
        const int64_t rows = r1 - c0 < chunk ? r1 - c0 : chunk;                                                 \
        const int64_t groups = (rows + 7) / 8;                                                                  \
        for (int64_t gi = 0; gi < groups && packed; gi++) {                                                     \
            const size_t gb = muse_packed_group_bytes(T##_TYPE);                                                \
            for (int64_t i = 0; i < nb; i++) {                                                                  \
                const uint8_t *blk = packed + (size_t)((c0 / 8 + gi) * nb + i) * gb;                            \
                QD_PACKED_UNPACK_##T(blk, wu + (gi * nb + i) * 8);                                              \
                wd[gi * nb + i] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk));                       \
            }                                                                                                   \
        }                                                                                                       \
        for (int64_t gi = 0; gi < groups && !packed; gi++) {                                                    \
            const int R = rows - 8 * gi < 8 ? (int)(rows - 8 * gi) : 8;                                         \
            const BLOCK *a[8];                                                                                  \
            for (int l = 0; l < R; l++) a[l] = (const BLOCK *)((const char *)w + (size_t)(c0 + 8 * gi + l) * w_row_bytes); \
            for (int64_t i = 0; i < nb; i++) {                                                                  \
                __m256i q[8];                                                                                   \
                uint16_t dh[8];                                                                                 \
                for (int l = 0; l < 8; l++) {                                                                   \
                    q[l] = l < R ? QD_NAME(unsigned_##T)(&a[l][i]) : _mm256_setzero_si256();                    \
                    dh[l] = l < R ? a[l][i].d : 0;                                                              \
                }                                                                                               \
                QD_NAME(transpose8_i32)(q, wu + (gi * nb + i) * 8);                                             \
                wd[gi * nb + i] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)dh));                        \
            }                                                                                                   \
        }                                                                                                       \
        for (int64_t t0 = 0; t0 < nx; t0 += QD_BLOCK_X) {                                                       \
            const int C = nx - t0 < QD_BLOCK_X ? (int)(nx - t0) : QD_BLOCK_X;                                   \
            const muse_block_q8_0 *b[QD_BLOCK_X];                                                               \
            for (int k = 0; k < C; k++) {                                                                       \
                b[k] = (const muse_block_q8_0 *)((const char *)x + (size_t)(t0 + k) * x_row_bytes);             \
                for (int64_t i = 0; i < nb; i++) {                                                              \
                    dx[i][k] = QD_NAME(h2f)(b[k][i].d);                                                         \
                    off[i][k] = -T##_OFFSET * QD_NAME(q8_0_sum)(&b[k][i]);                                      \
                }                                                                                               \
            }                                                                                                   \
            for (int64_t gi = 0; gi < groups; gi++) {                                                           \
                __m256 acc[QD_BLOCK_X];                                                                         \
                for (int k = 0; k < QD_BLOCK_X; k++) acc[k] = _mm256_setzero_ps();                             \
                const __m256i *v = wu + gi * nb * 8;                                                            \
                const __m256 *d = wd + gi * nb;                                                                 \
                if (C == QD_BLOCK_X) {                                                                          \
                    for (int64_t i = 0; i < nb; i++) QD_NAME(blocks_step)(QD_BLOCK_X, v + 8 * i, d[i], b, i, dx[i], off[i], acc); \
                } else {                                                                                        \
                    for (int64_t i = 0; i < nb; i++) QD_NAME(blocks_step)(C, v + 8 * i, d[i], b, i, dx[i], off[i], acc); \
                }                                                                                               \
                const int R = rows - 8 * gi < 8 ? (int)(rows - 8 * gi) : 8;                                     \
                for (int k = 0; k < C; k++) QD_NAME(store_lanes)(y + (t0 + k) * ldy + c0 + 8 * gi, acc[k], R);  \
            }                                                                                                   \
        }                                                                                                       \
    }                                                                                                           \
}                                                                                                               \
QD_TARGET static void QD_NAME(matmul_##T##_blocks)(int64_t n, const void *w, size_t w_row_bytes, int64_t r0, int64_t r1, \
                                                   const void *x, size_t x_row_bytes, int64_t nx, float *y, int64_t ldy) { \
    if (nx < QD_BLOCK_X || n / MUSE_QK > QD_BLOCK_MAX) {                                                        \
        QD_NAME(matmul_##T##_direct)(n, w, w_row_bytes, r0, r1, x, x_row_bytes, nx, y, ldy);                    \
        return;                                                                                                 \
    }                                                                                                           \
    QD_NAME(matmul_##T##_blocks_from)(n, w, w_row_bytes, 0, r0, r1, x, x_row_bytes, nx, y, ldy);               \
}

// One block of a group of 8 transposed weight rows (v, scales dw) against C activation rows.
QD_INLINE void QD_NAME(blocks_step)(const int C, const __m256i *v, __m256 dw, const muse_block_q8_0 *const *b, int64_t i,
                                    const float *dx, const int32_t *off, __m256 *acc) {
    for (int k = 0; k < C; k++) {
        const uint8_t *q = (const uint8_t *)b[k][i].qs;
        __m256i s = _mm256_set1_epi32(off[k]);
        for (int g = 0; g < 8; g++) s = QD_US_DOT_ACC(s, _mm256_load_si256(v + g), _mm256_set1_epi32((int)qd_load32(q + 4 * g)));
        acc[k] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(dx[k])), _mm256_cvtepi32_ps(s), acc[k]);
    }
}

#define q4_0_TYPE MUSE_TYPE_Q4_0
#define q5_0_TYPE MUSE_TYPE_Q5_0
QD_BLOCKS(q4_0, muse_block_q4_0)
QD_BLOCKS(q5_0, muse_block_q5_0)
#undef q4_0_TYPE
#undef q5_0_TYPE
#undef QD_BLOCKS
#undef QD_BLOCKS_DIRECT
#undef QD_BLOCK_CHUNK
#undef q4_0_OFFSET
#undef q5_0_OFFSET
#undef QD_TILE_W
#undef QD_TILE_X
#undef QD_TILE_UNPACKED
#undef QD_TILE_MAX_BLOCKS
#undef QD_Q5_ADD16

// Weights packed at load time (packed.c has the layout): a group-block's 8 vectors hold 4
// consecutive quants of each of 8 rows, one row per lane. Per activation row and block: the
// integer starts at -OFFSET * sum(x), computed once per call; 8 byte dots against the row's quants
// broadcast 4 at a time give the 8 rows' exact block integers in the lanes; one fused multiply-add
// scales them (and Q4_1's offsets m * s go into a second accumulator), block after block: the
// scalar block-order dots' operations, lane by lane, so their bits, alone or in any batch.
// Unpacking is shared by up to QD_BLOCK_X activation rows; nothing is reduced across lanes.

// Activation blocks converted per call at most (the sums and scales of nx rows x nb blocks).
#define QD_PACK_ACTS 4096
// With more activation rows than one tile (prompts), a group's nibble quants are unpacked once
// into a stack buffer of this many vectors (40 KiB), which every tile then reads from L1.
#define QD_PACK_UNPACKED 1280
_Static_assert(MUSE_PACK_MAX_ROW / MUSE_QK <= QD_PACK_ACTS, "one activation row's blocks fit");

// T: the type; XB, XQS: bytes of an activation block and where its quants start; HAS_M: Q4_1's
// mins (fp16 after the scales) times the activations' s (fp16 after d).
#define QD_PACKED(T, TYPE, XB, XQS, HAS_M, PREUNPACK)                                                                      \
QD_INLINE void QD_NAME(packed_step_##T)(const int C, const uint8_t *blk, const __m256i *unpacked,     \
                                        const uint8_t *const *xq,                                       \
                                        const float *dx, const int32_t *off, const float *sx,           \
                                        __m256 *acc, __m256 *acc_m) {                                    \
    __m256i u[8], a[8];                                                                                 \
    (void)a;                                                                                            \
    if (unpacked) {                                                                                     \
        for (int g = 0; g < 8; g++) u[g] = _mm256_load_si256(unpacked + g);                             \
    } else {                                                                                            \
        QD_PACKED_UNPACK_##T(blk, u);                                                                   \
    }                                                                                                   \
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk));                           \
    for (int k = 0; k < C; k++) {                                                                       \
        __m256i s = _mm256_set1_epi32(off[k]);                                                          \
        for (int g = 0; g < 8; g++) s = QD_PACKED_DOT_##T(s, u, a, g, _mm256_set1_epi32((int)qd_load32(xq[k] + 4 * g))); \
        acc[k] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(dx[k])), _mm256_cvtepi32_ps(s), acc[k]); \
        if (HAS_M) {                                                                                    \
            const __m256 mw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + 16)));            \
            acc_m[k] = _mm256_fmadd_ps(mw, _mm256_set1_ps(sx[k]), acc_m[k]);                            \
        }                                                                                               \
    }                                                                                                   \
}                                                                                                       \
QD_TARGET static void QD_NAME(matmul_##T##_packed)(int64_t n, const void *packed, int64_t r0, int64_t r1, \
                                                   const void *x, size_t x_row_bytes, int64_t nx, float *y, int64_t ldy) { \
    const int64_t nb = n / MUSE_QK;                                                                     \
    if (QD_PACKED_PROMPT_##T(n, packed, r0, r1, x, x_row_bytes, nx, y, ldy)) return;                     \
    const size_t gb = muse_packed_group_bytes(TYPE);                                           \
    float dx[QD_PACK_ACTS], sx[HAS_M ? QD_PACK_ACTS : 1];                                               \
    __m256i wu[PREUNPACK ? QD_PACK_UNPACKED : 1];                                                       \
    int32_t off[QD_PACK_ACTS];                                                                          \
    const int64_t per = QD_PACK_ACTS / nb;                                                              \
    for (int64_t a0 = 0; a0 < nx; a0 += per) {                                                          \
        const int64_t na = nx - a0 < per ? nx - a0 : per;                                               \
        /* Per block i, the activation rows' scales and integer starts side by side. */               \
        for (int64_t k = 0; k < na; k++) {                                                              \
            const uint8_t *xr = (const uint8_t *)x + (size_t)(a0 + k) * x_row_bytes;                     \
            for (int64_t i = 0; i < nb; i++) {                                                          \
                const uint8_t *b = xr + (size_t)i * XB;                                                 \
                uint16_t h;                                                                             \
                memcpy(&h, b, 2);                                                                       \
                dx[i * na + k] = QD_NAME(h2f)(h);                                                       \
                off[i * na + k] = T##_PACK_OFFSET ? -T##_PACK_OFFSET * QD_NAME(qs_sum)((const int8_t *)(b + XQS)) : 0; \
                if (HAS_M) {                                                                            \
                    memcpy(&h, b + 2, 2);                                                               \
                    sx[(HAS_M ? i * na + k : 0)] = QD_NAME(h2f)(h);                                     \
                }                                                                                       \
            }                                                                                           \
        }                                                                                               \
        for (int64_t r = r0; r < r1; r += 8) {                                                          \
            const int R = r1 - r < 8 ? (int)(r1 - r) : 8;                                               \
            const uint8_t *group = (const uint8_t *)packed + (size_t)(r / 8) * (size_t)nb * gb;         \
            const int pre = PREUNPACK && na > QD_BLOCK_X && nb * 8 <= QD_PACK_UNPACKED;                 \
            if (pre) {                                                                                  \
                for (int64_t i = 0; i < nb; i++) {                                                      \
                    __m256i u[8], a[8];                                                                 \
                    (void)a;                                                                            \
                    QD_PACKED_UNPACK_##T(group + i * gb, u);                                            \
                    for (int g = 0; g < 8; g++) _mm256_store_si256(wu + 8 * i + g, u[g]);               \
                }                                                                                       \
            }                                                                                           \
            for (int64_t t0 = 0; t0 < na; t0 += QD_BLOCK_X) {                                           \
                const int C = na - t0 < QD_BLOCK_X ? (int)(na - t0) : QD_BLOCK_X;                       \
                __m256 acc[QD_BLOCK_X], acc_m[QD_BLOCK_X];                                              \
                for (int k = 0; k < QD_BLOCK_X; k++) acc[k] = acc_m[k] = _mm256_setzero_ps();           \
                const uint8_t *xt = (const uint8_t *)x + (size_t)(a0 + t0) * x_row_bytes + XQS;          \
                for (int64_t i = 0; i < nb; i++) {                                                      \
                    const uint8_t *xq[QD_BLOCK_X];                                                      \
                    for (int k = 0; k < C; k++) xq[k] = xt + (size_t)k * x_row_bytes + (size_t)i * XB;  \
                    const int64_t at = i * na + t0;                                                     \
                    const __m256i *unpacked = pre ? wu + 8 * i : 0;                                     \
                    if (C == QD_BLOCK_X) {                                                              \
                        QD_NAME(packed_step_##T)(QD_BLOCK_X, group + i * gb, unpacked, xq, dx + at, off + at, sx + (HAS_M ? at : 0), acc, acc_m); \
                    } else {                                                                            \
                        QD_NAME(packed_step_##T)(C, group + i * gb, unpacked, xq, dx + at, off + at, sx + (HAS_M ? at : 0), acc, acc_m); \
                    }                                                                                   \
                }                                                                                       \
                for (int k = 0; k < C; k++) {                                                           \
                    QD_NAME(store_lanes)(y + (a0 + t0 + k) * ldy + r, HAS_M ? _mm256_add_ps(acc[k], acc_m[k]) : acc[k], R); \
                }                                                                                       \
            }                                                                                           \
        }                                                                                               \
    }                                                                                                   \
}

// Prompts of Q4_0 and Q5_0 go to the block-order prompt kernel above, which unpacks a chunk of
// groups once for every tile of activation rows.
#define QD_PACKED_PROMPT_BLOCKS(T, n, packed, r0, r1, x, x_row_bytes, nx, y, ldy)                       \
    ((nx) >= QD_BLOCK_X && (n) / MUSE_QK <= QD_BLOCK_MAX                                                \
     ? (QD_NAME(matmul_##T##_blocks_from)((n), 0, 0, (const uint8_t *)(packed), (r0), (r1), (x), (x_row_bytes), (nx), (y), (ldy)), 1) \
     : 0)
#define QD_PACKED_PROMPT_q4_0(...) QD_PACKED_PROMPT_BLOCKS(q4_0, __VA_ARGS__)
#define QD_PACKED_PROMPT_q5_0(...) QD_PACKED_PROMPT_BLOCKS(q5_0, __VA_ARGS__)
#define QD_PACKED_PROMPT_q8_0(...) 0
#define QD_PACKED_PROMPT_q4_1(...) 0
// Q8_0's quants need no unpacking (a sign flip at most), so they are read as packed.
QD_PACKED(q4_0, MUSE_TYPE_Q4_0, 34, 2, 0, 1)
QD_PACKED(q5_0, MUSE_TYPE_Q5_0, 34, 2, 0, 1)
QD_PACKED(q8_0, MUSE_TYPE_Q8_0, 34, 2, 0, 0)
QD_PACKED(q4_1, MUSE_TYPE_Q4_1, 36, 4, 1, 1)
#undef QD_PACKED
#undef QD_PACKED_UNPACK_q4_0
#undef QD_PACKED_UNPACK_q4_1
#undef QD_PACKED_UNPACK_q5_0
#undef QD_PACKED_UNPACK_q8_0
#undef QD_PACKED_DOT_UNSIGNED
#undef QD_PACKED_DOT_q4_0
#undef QD_PACKED_DOT_q4_1
#undef QD_PACKED_DOT_q5_0
#undef QD_PACKED_DOT_q8_0
#undef q4_0_PACK_OFFSET
#undef q4_1_PACK_OFFSET
#undef q5_0_PACK_OFFSET
#undef q8_0_PACK_OFFSET
#undef QD_PACK_ACTS
#undef QD_PACK_UNPACKED
#undef QD_PACKED_PROMPT_BLOCKS
#undef QD_PACKED_PROMPT_q4_0
#undef QD_PACKED_PROMPT_q5_0
#undef QD_PACKED_PROMPT_q8_0
#undef QD_PACKED_PROMPT_q4_1
#undef QD_BLOCK_MAX
#undef QD_SATURATING_PAIRS

// K-quants (256-element superblocks against Q8_K). Each superblock is reduced to exact integers:
// its quants are unsigned bytes (the signed offsets of Q3_K and Q6_K come back through Q8_K's
// bsums), multiplied by the activation bytes in pairs (maddubs; at most 2 * 63 * 127, no
// saturation), the pairs scaled by their sub-block's scale and summed into 32-bit lanes
// (QD_WS_DOT_ACC), and the lanes summed. Then one fused multiply-add per superblock (two with
// mins) in float, in superblock order, as in the scalar reference: the same integers and the same
// float operations, so the same bits on every path.
//
// The kernels take R activation rows at once (R = 1 for the dot, QD_ROWS in the matmuls): each
// weight superblock is unpacked once for all R. Row k's float operations are those of R = 1.

// The shuffle masks that spread sub-block scales (see qd_lane16_masks), loaded through a pointer
// the compiler cannot see into: with constant masks it turns each single byte shuffle into two or
// three cheaper-looking ones, which costs more shuffle-port time than it saves.
#define QD_MASKS_BEGIN const uint8_t (*masks)[32] = qd_lane16_masks; __asm__("" : "+r"(masks))
#define QD_MASK(row) _mm256_loadu_si256((const __m256i *)masks[row])

// The lane sums of 4 vectors, as lanes 0..3.
QD_INLINE __m128i QD_NAME(hsum4_i32)(__m256i v0, __m256i v1, __m256i v2, __m256i v3) {
    const __m256i s = _mm256_hadd_epi32(_mm256_hadd_epi32(v0, v1), _mm256_hadd_epi32(v2, v3));
    return _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
}

// The lane sums of 2 vectors, as lanes 0 and 1 (and again as 2 and 3).
QD_INLINE __m128i QD_NAME(hsum2_i32)(__m256i v0, __m256i v1) {
    const __m256i h = _mm256_hadd_epi32(v0, v1);
    const __m128i s = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    return _mm_hadd_epi32(s, s);
}

// The fp16 d (and dmin, which follows it in the blocks with mins) times an activation scale:
// lanes [d * dx, dmin * dx, 0, 0].
QD_INLINE __m128 QD_NAME(kscales)(const uint16_t *dh, float dx) {
    uint32_t pair;
    memcpy(&pair, dh, 4);
    return _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128((int)pair)), _mm_set1_ps(dx));
}

// 16 8-bit sub-block scales as 16-bit lanes, each 128-bit half of `lo` holding scales 0..7 and
// each half of `hi` scales 8..15, ready for QD_MASK(8 + c).
QD_INLINE void QD_NAME(scales16)(__m128i sc8, int is_signed, __m256i *lo, __m256i *hi) {
    const __m256i s = is_signed ? _mm256_cvtepi8_epi16(sc8) : _mm256_cvtepu8_epi16(sc8);
    *lo = _mm256_permute2x128_si256(s, s, 0x00);
    *hi = _mm256_permute2x128_si256(s, s, 0x11);
}

// One 32-element chunk of unsigned quants u times row k's activations from byte `off` of the
// superblock, scaled per 16 (or 32) elements by the 16-bit lanes of `scale`, into sum[k].
#define QD_K_CHUNK(u, scale, off)                                                                     \
    for (int k = 0; k < R; k++) {                                                                    \
        const __m256i q8 = _mm256_loadu_si256((const __m256i *)(b[k][i].qs + (off)));                \
        sum[k] = QD_WS_DOT_ACC(sum[k], _mm256_maddubs_epi16((u), q8), (scale));                      \
    }

// Each type's superblock i against R activation rows: sum[k] (and sum_min[k]) as 8 lanes whose
// total is the exact integer.

// Q2_K: quants 0..3, 4-bit scales and mins per 16 elements; sum_min = sum of min * bsums.
QD_INLINE void QD_NAME(q2_K_sums)(const int R, const muse_block_q2_K *a, const muse_block_q8_K *const *b, int64_t i,
                                  const uint8_t (*masks)[32], __m256i *sum, __m256i *sum_min) {
    const __m256i m3 = _mm256_set1_epi8(3);
    const __m128i packed = _mm_loadu_si128((const __m128i *)a[i].scales);
    const __m128i scales = _mm_and_si128(packed, _mm_set1_epi8(0x0F));
    const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0F)));
    __m256i sc_lo, sc_hi;
    QD_NAME(scales16)(scales, 0, &sc_lo, &sc_hi);
    for (int k = 0; k < R; k++) {
        sum[k] = _mm256_setzero_si256();
        sum_min[k] = _mm256_madd_epi16(mins, _mm256_loadu_si256((const __m256i *)b[k][i].bsums));
    }
#pragma clang loop unroll(full)
    for (int h = 0; h < 2; h++) {
        const __m256i q = _mm256_loadu_si256((const __m256i *)(a[i].qs + 32 * h));
        const __m256i sc = h ? sc_hi : sc_lo;
        QD_K_CHUNK(_mm256_and_si256(q, m3), _mm256_shuffle_epi8(sc, QD_MASK(8)), 128 * h)
        QD_K_CHUNK(_mm256_and_si256(_mm256_srli_epi16(q, 2), m3), _mm256_shuffle_epi8(sc, QD_MASK(9)), 128 * h + 32)
        QD_K_CHUNK(_mm256_and_si256(_mm256_srli_epi16(q, 4), m3), _mm256_shuffle_epi8(sc, QD_MASK(10)), 128 * h + 64)
        QD_K_CHUNK(_mm256_and_si256(_mm256_srli_epi16(q, 6), m3), _mm256_shuffle_epi8(sc, QD_MASK(11)), 128 * h + 96)
    }
}

// Q3_K: u = 2 low bits + 4 * high bit (0..7) and q = u - 4, so sum = sum(scale * u . q8) -
// 4 * sum(scale * bsums). Scales are 6 bits, biased by 32.
QD_INLINE void QD_NAME(q3_K_sums)(const int R, const muse_block_q3_K *a, const muse_block_q8_K *const *b, int64_t i,
                                  const uint8_t (*masks)[32], __m256i *sum, __m256i *sum_min) {
    (void)sum_min;
    const __m256i m3 = _mm256_set1_epi8(3), m4 = _mm256_set1_epi8(4);
    // Scale j's low nibble is in byte j % 8 (low nibble for j < 8), its top 2 bits in byte
    // 8 + j % 4 at bit 2 * (j / 4). With w0, w1, w2 the 32-bit words of the 12 bytes, the four
    // words of 4 scales are (w0 | w1 | w0 >> 4 | w1 >> 4) & 0x0F.. | (w2 >> 0 | 2 | 4 | 6 & 0x03..) << 4.
    // The 16 bytes loaded end with the 12 scale bytes (all inside the block).
    const __m128i p = _mm_loadu_si128((const __m128i *)(a[i].scales - 4));
    const __m128i low = _mm_and_si128(_mm_srlv_epi32(_mm_shuffle_epi32(p, _MM_SHUFFLE(2, 1, 2, 1)), _mm_setr_epi32(0, 0, 4, 4)),
                                      _mm_set1_epi8(0x0F));
    const __m128i high = _mm_and_si128(_mm_slli_epi32(_mm_srlv_epi32(_mm_shuffle_epi32(p, _MM_SHUFFLE(3, 3, 3, 3)), _mm_setr_epi32(0, 2, 4, 6)), 4),
                                       _mm_set1_epi8(0x30));
    const __m128i scales = _mm_sub_epi8(_mm_or_si128(low, high), _mm_set1_epi8(32));
    __m256i sc_lo, sc_hi;
    QD_NAME(scales16)(scales, 1, &sc_lo, &sc_hi);
    const __m256i sc_all = _mm256_cvtepi8_epi16(scales);
    for (int k = 0; k < R; k++) {
        const __m256i offset = _mm256_madd_epi16(sc_all, _mm256_loadu_si256((const __m256i *)b[k][i].bsums));
        sum[k] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 2));
    }
    const __m256i hbits = _mm256_loadu_si256((const __m256i *)a[i].hmask);
    // Bit `bit` of each hmask byte moved to bit 2 (16-bit shifts; the mask drops what crosses bytes).
#define QD_Q3_HIGH(bit) _mm256_and_si256((bit) >= 2 ? _mm256_srli_epi16(hbits, (bit) - 2) : _mm256_slli_epi16(hbits, 2 - (bit)), m4)
#pragma clang loop unroll(full)
    for (int h = 0; h < 2; h++) {
        const __m256i q = _mm256_loadu_si256((const __m256i *)(a[i].qs + 32 * h));
        const __m256i sc = h ? sc_hi : sc_lo;
        QD_K_CHUNK(_mm256_or_si256(_mm256_and_si256(q, m3), QD_Q3_HIGH(4 * h)),
                   _mm256_shuffle_epi8(sc, QD_MASK(8)), 128 * h)
        QD_K_CHUNK(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 2), m3), QD_Q3_HIGH(4 * h + 1)),
                   _mm256_shuffle_epi8(sc, QD_MASK(9)), 128 * h + 32)
        QD_K_CHUNK(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m3), QD_Q3_HIGH(4 * h + 2)),
                   _mm256_shuffle_epi8(sc, QD_MASK(10)), 128 * h + 64)
        QD_K_CHUNK(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 6), m3), QD_Q3_HIGH(4 * h + 3)),
                   _mm256_shuffle_epi8(sc, QD_MASK(11)), 128 * h + 96)
    }
#undef QD_Q3_HIGH
}

// Q4_K and Q5_K's 6-bit scales and mins, unpacked from 12 bytes into 16-bit lanes: scales 0..7 in
// both halves of *scales, mins 0..7 in *mins (see muse_k4_scale_min for the packing). All in
// vector registers: building the vector from general registers would insert into whatever
// register the compiler picks, sometimes a loop-carried accumulator. Reads 16 bytes at `packed`
// (the 12 scale bytes and the start of what follows them in the block).
QD_INLINE void QD_NAME(k4_scales)(const uint8_t *packed, __m256i *scales, __m128i *mins) {
    // 32-bit words w0, w1, w2 of the packing; the result's words are
    // [w0 & 0x3F.., (w2 & 0x0F..) | (w0 >> 6 & 0x03..) << 4, w1 & 0x3F.., (w2 >> 4 & 0x0F..) | (w1 >> 6 & 0x03..) << 4].
    const __m128i p = _mm_loadu_si128((const __m128i *)packed);
    const __m128i low = _mm_and_si128(_mm_srlv_epi32(_mm_shuffle_epi32(p, _MM_SHUFFLE(2, 1, 2, 0)), _mm_setr_epi32(0, 0, 0, 4)),
                                      _mm_setr_epi32(0x3F3F3F3F, 0x0F0F0F0F, 0x3F3F3F3F, 0x0F0F0F0F));
    const __m128i high = _mm_and_si128(_mm_srli_epi32(_mm_shuffle_epi32(p, _MM_SHUFFLE(1, 1, 0, 0)), 2),
                                       _mm_setr_epi32(0, 0x30303030, 0, 0x30303030));
    const __m256i both = _mm256_cvtepu8_epi16(_mm_or_si128(low, high));
    *scales = _mm256_permute2x128_si256(both, both, 0x00);
    *mins = _mm256_extracti128_si256(both, 1);
}

// Q4_K (qh NULL) and Q5_K: sub-block j is 32 elements with one scale and min; sum_min = sum of
// min * (the two bsums of the sub-block).
QD_INLINE void QD_NAME(k4_k5_sums)(const int R, const uint8_t *scale_bytes, const uint8_t *qs, const uint8_t *qh,
                                   const muse_block_q8_K *const *b, int64_t i,
                                   const uint8_t (*masks)[32], __m256i *sum, __m256i *sum_min) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), bit4 = _mm256_set1_epi8(0x10);
    __m256i scales;
    __m128i mins;
    QD_NAME(k4_scales)(scale_bytes, &scales, &mins);
    for (int k = 0; k < R; k++) {
        const __m256i bs = _mm256_loadu_si256((const __m256i *)b[k][i].bsums);
        const __m128i pairs = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
        sum_min[k] = _mm256_zextsi128_si256(_mm_madd_epi16(mins, pairs));
        sum[k] = _mm256_setzero_si256();
    }
    const __m256i hbits = qh ? _mm256_loadu_si256((const __m256i *)qh) : _mm256_setzero_si256();
    // Bit `bit` of each qh byte moved to bit 4.
#define QD_Q5_HIGH(bit) _mm256_and_si256((bit) >= 4 ? _mm256_srli_epi16(hbits, (bit) - 4) : _mm256_slli_epi16(hbits, 4 - (bit)), bit4)
#pragma clang loop unroll(full)
    for (int j = 0; j < 4; j++) {
        const __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * j));
        __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        if (qh) {
            lo = _mm256_or_si256(lo, QD_Q5_HIGH(2 * j));
            hi = _mm256_or_si256(hi, QD_Q5_HIGH(2 * j + 1));
        }
        QD_K_CHUNK(lo, _mm256_shuffle_epi8(scales, QD_MASK(2 * j)), 64 * j)
        QD_K_CHUNK(hi, _mm256_shuffle_epi8(scales, QD_MASK(2 * j + 1)), 64 * j + 32)
    }
#undef QD_Q5_HIGH
}

QD_INLINE void QD_NAME(q4_K_sums)(const int R, const muse_block_q4_K *a, const muse_block_q8_K *const *b, int64_t i,
                                  const uint8_t (*masks)[32], __m256i *sum, __m256i *sum_min) {
    QD_NAME(k4_k5_sums)(R, a[i].scales, a[i].qs, 0, b, i, masks, sum, sum_min);
}

QD_INLINE void QD_NAME(q5_K_sums)(const int R, const muse_block_q5_K *a, const muse_block_q8_K *const *b, int64_t i,
                                  const uint8_t (*masks)[32], __m256i *sum, __m256i *sum_min) {
    QD_NAME(k4_k5_sums)(R, a[i].scales, a[i].qs, a[i].qh, b, i, masks, sum, sum_min);
}

// Q6_K: u = 6-bit quant (0..63) and q = u - 32, so sum = sum(scale * u . q8) - 32 * sum(scale * bsums).
QD_INLINE void QD_NAME(q6_K_sums)(const int R, const muse_block_q6_K *a, const muse_block_q8_K *const *b, int64_t i,
                                  const uint8_t (*masks)[32], __m256i *sum, __m256i *sum_min) {
    (void)sum_min;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(3);
    const __m128i scales = _mm_loadu_si128((const __m128i *)a[i].scales);
    __m256i sc_lo, sc_hi;
    QD_NAME(scales16)(scales, 1, &sc_lo, &sc_hi);
    const __m256i sc_all = _mm256_cvtepi8_epi16(scales);
    for (int k = 0; k < R; k++) {
        const __m256i offset = _mm256_madd_epi16(sc_all, _mm256_loadu_si256((const __m256i *)b[k][i].bsums));
        sum[k] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 5));
    }
#pragma clang loop unroll(full)
    for (int h = 0; h < 2; h++) {
        const __m256i l0 = _mm256_loadu_si256((const __m256i *)(a[i].ql + 64 * h));
        const __m256i l1 = _mm256_loadu_si256((const __m256i *)(a[i].ql + 64 * h + 32));
        const __m256i qh = _mm256_loadu_si256((const __m256i *)(a[i].qh + 32 * h));
        const __m256i sc = h ? sc_hi : sc_lo;
        QD_K_CHUNK(_mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4)),
                   _mm256_shuffle_epi8(sc, QD_MASK(8)), 128 * h)
        QD_K_CHUNK(_mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(12)), 2)),
                   _mm256_shuffle_epi8(sc, QD_MASK(9)), 128 * h + 32)
        QD_K_CHUNK(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(qh, _mm256_set1_epi8(48))),
                   _mm256_shuffle_epi8(sc, QD_MASK(10)), 128 * h + 64)
        QD_K_CHUNK(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_srli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8((char)0xC0)), 2)),
                   _mm256_shuffle_epi8(sc, QD_MASK(11)), 128 * h + 96)
    }
}

// The float side, for R activation rows. Per row and superblock: acc += (d * dx) * sum, and with
// mins acc_min += (dmin * dx) * sum_min, one rounding each (fused); the result is acc - acc_min.
// For one row, lane 0 of `acc` is acc and lane 1 acc_min, and superblocks go in pairs so that one
// set of horizontal adds reduces both (the float steps stay one superblock at a time, in order).
// For QD_ROWS rows the lanes of `acc` and `acc_min` are the rows.
#define QD_K_ROWS(T, BLOCK, HAS_MIN, DMIN)                                                                               \
QD_INLINE void QD_NAME(T##_rows)(const int R, int64_t nb, const BLOCK *a, const muse_block_q8_K *const *b, float *out) { \
    QD_MASKS_BEGIN;                                                                                                     \
    __m256i sum[QD_ROWS], sum_min[QD_ROWS];                                                                             \
    if (R == 1) {                                                                                                       \
        __m128 acc = _mm_setzero_ps();                                                                                  \
        int64_t i = 0;                                                                                                  \
        for (; i + 2 <= nb; i += 2) {                                                                                   \
            __m256i sum1, sum_min1;                                                                                     \
            QD_NAME(T##_sums)(1, a, b, i, masks, sum, sum_min);                                                         \
            QD_NAME(T##_sums)(1, a, b, i + 1, masks, &sum1, &sum_min1);                                                 \
            if (HAS_MIN) {                                                                                              \
                const __m128 s = _mm_cvtepi32_ps(QD_NAME(hsum4_i32)(sum[0], sum_min[0], sum1, sum_min1));               \
                acc = _mm_fmadd_ps(QD_NAME(kscales)(&a[i].d, b[0][i].d), s, acc);                                       \
                acc = _mm_fmadd_ps(QD_NAME(kscales)(&a[i + 1].d, b[0][i + 1].d), _mm_movehl_ps(s, s), acc);            \
            } else {                                                                                                    \
                const __m128 s = _mm_cvtepi32_ps(QD_NAME(hsum2_i32)(sum[0], sum1));                                     \
                acc = _mm_fmadd_ss(_mm_set_ss(QD_NAME(h2f)(a[i].d) * b[0][i].d), s, acc);                               \
                acc = _mm_fmadd_ss(_mm_set_ss(QD_NAME(h2f)(a[i + 1].d) * b[0][i + 1].d), _mm_movehdup_ps(s), acc);      \
            }                                                                                                           \
        }                                                                                                               \
        if (i < nb) {                                                                                                   \
            QD_NAME(T##_sums)(1, a, b, i, masks, sum, sum_min);                                                         \
            if (HAS_MIN) {                                                                                              \
                const __m128 s = _mm_cvtepi32_ps(QD_NAME(hsum2_i32)(sum[0], sum_min[0]));                               \
                acc = _mm_fmadd_ps(QD_NAME(kscales)(&a[i].d, b[0][i].d), s, acc);                                       \
            } else {                                                                                                    \
                const __m128 s = _mm_cvtepi32_ps(QD_NAME(hsum2_i32)(sum[0], sum[0]));                                   \
                acc = _mm_fmadd_ss(_mm_set_ss(QD_NAME(h2f)(a[i].d) * b[0][i].d), s, acc);                               \
            }                                                                                                           \
        }                                                                                                               \
        out[0] = _mm_cvtss_f32(acc) - (HAS_MIN ? _mm_cvtss_f32(_mm_movehdup_ps(acc)) : 0.0f);                           \
    } else {                                                                                                            \
        __m128 acc = _mm_setzero_ps(), acc_min = _mm_setzero_ps();                                                      \
        for (int64_t i = 0; i < nb; i++) {                                                                              \
            QD_NAME(T##_sums)(QD_ROWS, a, b, i, masks, sum, sum_min);                                                   \
            const __m128 dx = _mm_setr_ps(b[0][i].d, b[1][i].d, b[2][i].d, b[3][i].d);                                  \
            const __m128 s = _mm_cvtepi32_ps(QD_NAME(hsum4_i32)(sum[0], sum[1], sum[2], sum[3]));                       \
            acc = _mm_fmadd_ps(_mm_mul_ps(_mm_set1_ps(QD_NAME(h2f)(a[i].d)), dx), s, acc);                              \
            if (HAS_MIN) {                                                                                              \
                const __m128 m = _mm_cvtepi32_ps(QD_NAME(hsum4_i32)(sum_min[0], sum_min[1], sum_min[2], sum_min[3]));   \
                acc_min = _mm_fmadd_ps(_mm_mul_ps(_mm_set1_ps(QD_NAME(h2f)(DMIN)), dx), m, acc_min);                    \
            }                                                                                                           \
        }                                                                                                               \
        _mm_storeu_ps(out, _mm_sub_ps(acc, acc_min));                                                                   \
    }                                                                                                                   \
}

QD_K_ROWS(q2_K, muse_block_q2_K, 1, a[i].dmin)
QD_K_ROWS(q3_K, muse_block_q3_K, 0, a[i].d)
QD_K_ROWS(q4_K, muse_block_q4_K, 1, a[i].dmin)
QD_K_ROWS(q5_K, muse_block_q5_K, 1, a[i].dmin)
QD_K_ROWS(q6_K, muse_block_q6_K, 0, a[i].d)

// The dot (one row) and the matmul (tiles of QD_ROWS activation rows per weight row, the rest one
// by one) of each K-quant.
#define QD_K_KERNELS(T)                                                                                          \
QD_TARGET static float QD_NAME(dot_##T##_q8_K)(int64_t n, const void *w, const void *x) {                        \
    const muse_block_q8_K *b = x;                                                                                \
    float out;                                                                                                   \
    QD_NAME(T##_rows)(1, n / MUSE_QK_K, w, &b, &out);                                                            \
    return out;                                                                                                  \
}                                                                                                                \
QD_TARGET static void QD_NAME(matmul_##T)(int64_t n, const void *w, size_t w_row_bytes, int64_t r0, int64_t r1, \
                                          const void *x, size_t x_row_bytes, int64_t nx, float *y, int64_t ldy) { \
    const int64_t nb = n / MUSE_QK_K;                                                                            \
    for (int64_t r = r0; r < r1; r++) {                                                                          \
        const void *a = (const char *)w + (size_t)r * w_row_bytes;                                               \
        int64_t t = 0;                                                                                           \
        for (; t + QD_ROWS <= nx; t += QD_ROWS) {                                                                \
            const muse_block_q8_K *b[QD_ROWS];                                                                   \
            float out[QD_ROWS];                                                                                  \
            for (int k = 0; k < QD_ROWS; k++) b[k] = (const muse_block_q8_K *)((const char *)x + (size_t)(t + k) * x_row_bytes); \
            QD_NAME(T##_rows)(QD_ROWS, nb, a, b, out);                                                           \
            for (int k = 0; k < QD_ROWS; k++) y[(t + k) * ldy + r] = out[k];                                     \
        }                                                                                                        \
        for (; t < nx; t++) y[t * ldy + r] = QD_NAME(dot_##T##_q8_K)(n, a, (const char *)x + (size_t)t * x_row_bytes); \
    }                                                                                                            \
}

QD_K_KERNELS(q2_K)
QD_K_KERNELS(q3_K)
QD_K_KERNELS(q4_K)
QD_K_KERNELS(q5_K)
QD_K_KERNELS(q6_K)

// Q4_K, Q5_K and Q6_K for prompts, with the same integers and float steps as above (so the same
// bits), from a layout that needs no horizontal sums: weight rows in groups of 8, each
// superblock unpacked once per chunk into 32-element chunks transposed across the 8 rows (lane l
// of a vector holds 4 consecutive quants of row l, as for Q4_0 and Q5_0 above), with the
// sub-block scales, the bsum coefficients (mins, or Q6_K's -32 * scale) and d, dmin as vectors of
// 8 rows. Per activation row, 8 byte dots per chunk give the 8 rows' chunk dots in the lanes; a
// 32-bit multiply applies each row's sub-block scale.
#ifndef QD_KQ_GROUP
#define QD_KQ_GROUP
typedef struct {
    __m256i q[64];     // chunk c, group g (quants 4g..4g+3 of the chunk) at 8c + g
    __m256i scale[16]; // per 32-element chunk (Q4_K, Q5_K: 8) or 16-element sub-block (Q6_K: 16)
    __m256i bias[8];   // 16-bit pairs: coefficients of bsums 2p and 2p+1
    __m256 d, dmin;
} qd_kq_group;
#endif
// Group-superblocks per chunk (about 127 KiB of stack): rows up to 11264 quants.
#define QD_KQ_CHUNK 44

// A superblock of one row as 8 chunks of 32 unsigned quants, its scales (per chunk or per
// sub-block) and its 16 bsum coefficients.
QD_INLINE void QD_NAME(kq_unpack_k4)(const uint8_t *scales, const uint8_t *qs, const uint8_t *qh,
                                     __m256i u[8], int32_t sc[16], int16_t coef[16]) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), bit4 = _mm256_set1_epi8(0x10);
    const __m256i hbits = qh ? _mm256_loadu_si256((const __m256i *)qh) : _mm256_setzero_si256();
    for (int j = 0; j < 4; j++) {
        const __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * j));
        u[2 * j] = _mm256_and_si256(q, m4);
        u[2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        if (qh) {
            u[2 * j] = _mm256_or_si256(u[2 * j], _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(hbits, 2 * j), 4), bit4));
            u[2 * j + 1] = _mm256_or_si256(u[2 * j + 1], _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(hbits, 2 * j + 1), 4), bit4));
        }
    }
    for (int j = 0; j < 8; j++) {
        uint8_t scale, min;
        muse_k4_scale_min(j, scales, &scale, &min);
        sc[j] = scale;
        coef[2 * j] = coef[2 * j + 1] = min;
    }
}

QD_INLINE void QD_NAME(kq_unpack_q4_K)(const muse_block_q4_K *a, __m256i u[8], int32_t sc[16], int16_t coef[16]) {
    QD_NAME(kq_unpack_k4)(a->scales, a->qs, 0, u, sc, coef);
}

QD_INLINE void QD_NAME(kq_unpack_q5_K)(const muse_block_q5_K *a, __m256i u[8], int32_t sc[16], int16_t coef[16]) {
    QD_NAME(kq_unpack_k4)(a->scales, a->qs, a->qh, u, sc, coef);
}

QD_INLINE void QD_NAME(kq_unpack_q6_K)(const muse_block_q6_K *a, __m256i u[8], int32_t sc[16], int16_t coef[16]) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int h = 0; h < 2; h++) {
        const __m256i l0 = _mm256_loadu_si256((const __m256i *)(a->ql + 64 * h));
        const __m256i l1 = _mm256_loadu_si256((const __m256i *)(a->ql + 64 * h + 32));
        const __m256i qh = _mm256_loadu_si256((const __m256i *)(a->qh + 32 * h));
        u[4 * h] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(3)), 4));
        u[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(12)), 2));
        u[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(qh, _mm256_set1_epi8(48)));
        u[4 * h + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                       _mm256_srli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8((char)0xC0)), 2));
    }
    for (int j = 0; j < 16; j++) {
        sc[j] = a->scales[j];
        coef[j] = (int16_t)(-32 * a->scales[j]);
    }
}

// Superblock i of one group (8 rows, R of them real) into *g.
#define QD_KQ_FILL(T, BLOCK)                                                                                    \
QD_INLINE void QD_NAME(kq_fill_##T)(const BLOCK *const *a, const int R, int64_t i, qd_kq_group *g) {           \
    __m256i u[8][8];                                                                                            \
    int32_t sc[8][16];                                                                                          \
    int16_t coef[8][16];                                                                                        \
    uint16_t dh[8], dminh[8];                                                                                   \
    for (int l = 0; l < 8; l++) {                                                                               \
        if (l < R) {                                                                                            \
            QD_NAME(kq_unpack_##T)(&a[l][i], u[l], sc[l], coef[l]);                                             \
            dh[l] = a[l][i].d;                                                                                  \
            dminh[l] = T##_DMIN(a[l][i]);                                                                       \
        } else {                                                                                                \
            for (int c = 0; c < 8; c++) u[l][c] = _mm256_setzero_si256();                                       \
            for (int j = 0; j < 16; j++) sc[l][j] = coef[l][j] = 0;                                             \
            dh[l] = dminh[l] = 0;                                                                               \
        }                                                                                                       \
    }                                                                                                           \
    for (int c = 0; c < 8; c++) {                                                                               \
        __m256i rows[8];                                                                                        \
        for (int l = 0; l < 8; l++) rows[l] = u[l][c];                                                          \
        QD_NAME(transpose8_i32)(rows, g->q + 8 * c);                                                            \
    }                                                                                                           \
    for (int j = 0; j < 16; j++) {                                                                              \
        g->scale[j] = _mm256_setr_epi32(sc[0][j], sc[1][j], sc[2][j], sc[3][j], sc[4][j], sc[5][j], sc[6][j], sc[7][j]); \
    }                                                                                                           \
    for (int p = 0; p < 8; p++) {                                                                               \
        int32_t pair[8];                                                                                        \
        for (int l = 0; l < 8; l++) pair[l] = (int32_t)((uint32_t)(uint16_t)coef[l][2 * p] | ((uint32_t)(uint16_t)coef[l][2 * p + 1] << 16)); \
        g->bias[p] = _mm256_loadu_si256((const __m256i *)pair);                                                 \
    }                                                                                                           \
    g->d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)dh));                                               \
    g->dmin = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)dminh));                                         \
}

#define q4_K_DMIN(blk) (blk).dmin
#define q5_K_DMIN(blk) (blk).dmin
#define q6_K_DMIN(blk) 0
QD_KQ_FILL(q4_K, muse_block_q4_K)
QD_KQ_FILL(q5_K, muse_block_q5_K)
QD_KQ_FILL(q6_K, muse_block_q6_K)
#undef q4_K_DMIN
#undef q5_K_DMIN
#undef q6_K_DMIN
#undef QD_KQ_FILL

// One superblock of a group against C activation rows: acc (and acc_min) get the float steps of
// the single dot. SUB16: scales per 16 quants (Q6_K, whose bsum term goes into the sum) rather than
// per 32 (Q4_K and Q5_K, whose mins go into acc_min).
QD_INLINE void QD_NAME(kq_step)(const int C, const int SUB16, const qd_kq_group *g, const muse_block_q8_K *const *b, int64_t i,
                                __m256 *acc, __m256 *acc_min) {
    __m256i sum[QD_BLOCK_X], t[QD_BLOCK_X];
    for (int k = 0; k < C; k++) {
        __m256i bias = _mm256_setzero_si256();
        for (int p = 0; p < 8; p++) bias = QD_WS_DOT_ACC(bias, g->bias[p], _mm256_set1_epi32((int)qd_load32((const uint8_t *)&b[k][i].bsums[2 * p])));
        if (SUB16) {
            sum[k] = bias;
        } else {
            sum[k] = _mm256_setzero_si256();
            acc_min[k] = _mm256_fmadd_ps(_mm256_mul_ps(g->dmin, _mm256_set1_ps(b[k][i].d)), _mm256_cvtepi32_ps(bias), acc_min[k]);
        }
    }
    // Sub-blocks of 16 (Q6_K) or 32 quants: the byte dots of their groups of 4, then the scale.
    const int per = SUB16 ? 4 : 8;
    for (int s = 0; s < 64 / per; s++) {
        for (int k = 0; k < C; k++) t[k] = _mm256_setzero_si256();
        for (int gi = per * s; gi < per * s + per; gi++) {
            const __m256i q = _mm256_load_si256(g->q + gi);
            for (int k = 0; k < C; k++) {
                t[k] = QD_US_DOT_ACC(t[k], q, _mm256_set1_epi32((int)qd_load32((const uint8_t *)b[k][i].qs + 4 * gi)));
            }
        }
        for (int k = 0; k < C; k++) sum[k] = _mm256_add_epi32(sum[k], _mm256_mullo_epi32(t[k], g->scale[s]));
    }
    for (int k = 0; k < C; k++) acc[k] = _mm256_fmadd_ps(_mm256_mul_ps(g->d, _mm256_set1_ps(b[k][i].d)), _mm256_cvtepi32_ps(sum[k]), acc[k]);
}

// Q4_K's packed superblock (packed.c) as a group: the same quants, scales, min coefficients and
// d, dmin that kq_fill_q4_K builds from 8 rows.
QD_INLINE void QD_NAME(kq_fill_packed_q4_K)(const uint8_t *blk, qd_kq_group *g) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int j = 0; j < 4; j++) {
        for (int gg = 0; gg < 8; gg++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(blk + 160 + 32 * (8 * j + gg)));
            g->q[8 * (2 * j) + gg] = _mm256_and_si256(v, m4);
            g->q[8 * (2 * j + 1) + gg] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
        }
    }
    for (int c = 0; c < 8; c++) g->scale[c] = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(blk + 32 + 8 * c)));
    for (int p = 0; p < 8; p++) {
        int32_t pair[8];
        for (int l = 0; l < 8; l++) {
            const uint32_t m = blk[96 + 16 * (p / 2) + 2 * l + p % 2];
            pair[l] = (int32_t)(m | m << 16);
        }
        g->bias[p] = _mm256_loadu_si256((const __m256i *)pair);
    }
    g->d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk));
    g->dmin = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + 16)));
}
#define QD_KQ_FILL_PACKED_q4_K(blk, g) QD_NAME(kq_fill_packed_q4_K)((blk), (g))
#define QD_KQ_FILL_PACKED_q5_K(blk, g) ((void)(blk), (void)(g))
#define QD_KQ_FILL_PACKED_q6_K(blk, g) ((void)(blk), (void)(g))

// The groups come from 8 rows of w at a time, or from packed weights (packed non-NULL, Q4_K only,
// r0 a multiple of 8).
#define QD_KQ_MATMUL(T, SUB16, HAS_MIN)                                                                           \
QD_TARGET static void QD_NAME(matmul_##T##_tiled_from)(int64_t n, const void *w, size_t w_row_bytes, const uint8_t *packed, \
                                                       int64_t r0, int64_t r1,                                   \
                                                       const void *x, size_t x_row_bytes, int64_t nx, float *y, int64_t ldy) { \
    const int64_t nb = n / MUSE_QK_K;                                                                            \
    qd_kq_group groups[QD_KQ_CHUNK];                                                                             \
    const int64_t chunk = QD_KQ_CHUNK / nb * 8;                                                                  \
    for (int64_t c0 = r0; c0 < r1; c0 += chunk) {                                                                \
        const int64_t rows = r1 - c0 < chunk ? r1 - c0 : chunk;                                                  \
        const int64_t count = (rows + 7) / 8;                                                                    \
        for (int64_t gi = 0; gi < count; gi++) {                                                                 \
            const int R = rows - 8 * gi < 8 ? (int)(rows - 8 * gi) : 8;                                          \
            if (packed) {                                                                                        \
                const size_t gb = muse_packed_group_bytes(MUSE_TYPE_Q4_K);                                       \
                for (int64_t i = 0; i < nb; i++) {                                                               \
                    QD_KQ_FILL_PACKED_##T(packed + (size_t)((c0 / 8 + gi) * nb + i) * gb, &groups[gi * nb + i]); \
                }                                                                                                \
                continue;                                                                                        \
            }                                                                                                    \
            const muse_block_##T *a[8];                                                                          \
            for (int l = 0; l < R; l++) a[l] = (const muse_block_##T *)((const char *)w + (size_t)(c0 + 8 * gi + l) * w_row_bytes); \
            for (int64_t i = 0; i < nb; i++) QD_NAME(kq_fill_##T)(a, R, i, &groups[gi * nb + i]);              \
        }                                                                                                        \
        for (int64_t t0 = 0; t0 < nx; t0 += QD_BLOCK_X) {                                                        \
            const int C = nx - t0 < QD_BLOCK_X ? (int)(nx - t0) : QD_BLOCK_X;                                    \
            const muse_block_q8_K *b[QD_BLOCK_X];                                                                \
            for (int k = 0; k < C; k++) b[k] = (const muse_block_q8_K *)((const char *)x + (size_t)(t0 + k) * x_row_bytes); \
            for (int64_t gi = 0; gi < count; gi++) {                                                             \
                __m256 acc[QD_BLOCK_X], acc_min[QD_BLOCK_X];                                                     \
                for (int k = 0; k < QD_BLOCK_X; k++) acc[k] = acc_min[k] = _mm256_setzero_ps();                  \
                const qd_kq_group *g = groups + gi * nb;                                                         \
                if (C == QD_BLOCK_X) {                                                                           \
                    for (int64_t i = 0; i < nb; i++) QD_NAME(kq_step)(QD_BLOCK_X, SUB16, g + i, b, i, acc, acc_min); \
                } else {                                                                                         \
                    for (int64_t i = 0; i < nb; i++) QD_NAME(kq_step)(C, SUB16, g + i, b, i, acc, acc_min);      \
                }                                                                                                \
                const int R = rows - 8 * gi < 8 ? (int)(rows - 8 * gi) : 8;                                      \
                for (int k = 0; k < C; k++) {                                                                    \
                    QD_NAME(store_lanes)(y + (t0 + k) * ldy + c0 + 8 * gi,                                       \
                                         HAS_MIN ? _mm256_sub_ps(acc[k], acc_min[k]) : acc[k], R);               \
                }                                                                                                \
            }                                                                                                    \
        }                                                                                                        \
    }                                                                                                            \
}                                                                                                                \
QD_TARGET static void QD_NAME(matmul_##T##_tiled)(int64_t n, const void *w, size_t w_row_bytes, int64_t r0, int64_t r1, \
                                                  const void *x, size_t x_row_bytes, int64_t nx, float *y, int64_t ldy) { \
    if (nx < QD_BLOCK_X || n / MUSE_QK_K > QD_KQ_CHUNK) {                                                        \
        QD_NAME(matmul_##T)(n, w, w_row_bytes, r0, r1, x, x_row_bytes, nx, y, ldy);                              \
        return;                                                                                                  \
    }                                                                                                            \
    QD_NAME(matmul_##T##_tiled_from)(n, w, w_row_bytes, 0, r0, r1, x, x_row_bytes, nx, y, ldy);                 \
}

QD_KQ_MATMUL(q4_K, 0, 1)
QD_KQ_MATMUL(q5_K, 0, 1)
QD_KQ_MATMUL(q6_K, 1, 0)
#undef QD_KQ_MATMUL
#undef QD_KQ_FILL_PACKED_q4_K
#undef QD_KQ_FILL_PACKED_q5_K
#undef QD_KQ_FILL_PACKED_q6_K

// Q4_K packed, few activation rows (decoding): per superblock and 32-element sub-block, the 8
// quant vectors are unpacked once for up to QD_BLOCK_X activation rows; per row, 8 byte dots
// against its quants broadcast 4 at a time give the 8 weight rows' sub-block dots in the lanes, a
// 32-bit multiply applies each row's scale, and the mins go through the activations' sub-block
// sums (paired for one 16-bit multiply-add per two sub-blocks). The integers and the float steps
// are the single dot's: the same bits, alone or in any batch.
QD_INLINE void QD_NAME(k4_packed_step)(const int C, const uint8_t *blk, const muse_block_q8_K *const *b, int64_t i,
                                       __m256 *acc, __m256 *acc_m) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256i sum[QD_BLOCK_X];
    const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + 16)));
    for (int k = 0; k < C; k++) {
        // Sub-block sums of the activations: bsums in adjacent pairs, as 4 words of two 16-bit halves.
        const __m128i s = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)b[k][i].bsums),
                                         _mm_loadu_si128((const __m128i *)(b[k][i].bsums + 8)));
        __m256i m = _mm256_setzero_si256();
        m = QD_WS_DOT_ACC(m, _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(blk + 96))), _mm256_set1_epi32(_mm_extract_epi32(s, 0)));
        m = QD_WS_DOT_ACC(m, _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(blk + 112))), _mm256_set1_epi32(_mm_extract_epi32(s, 1)));
        m = QD_WS_DOT_ACC(m, _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(blk + 128))), _mm256_set1_epi32(_mm_extract_epi32(s, 2)));
        m = QD_WS_DOT_ACC(m, _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(blk + 144))), _mm256_set1_epi32(_mm_extract_epi32(s, 3)));
        acc_m[k] = _mm256_fmadd_ps(_mm256_mul_ps(dmin, _mm256_set1_ps(b[k][i].d)), _mm256_cvtepi32_ps(m), acc_m[k]);
        sum[k] = _mm256_setzero_si256();
    }
    for (int j = 0; j < 8; j++) {
        const __m256i scale = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(blk + 32 + 8 * j)));
        __m256i u[8];
        for (int g = 0; g < 8; g++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(blk + 160 + 32 * (8 * (j / 2) + g)));
            u[g] = j % 2 ? _mm256_and_si256(_mm256_srli_epi16(v, 4), m4) : _mm256_and_si256(v, m4);
        }
        for (int k = 0; k < C; k++) {
            const uint8_t *q = (const uint8_t *)b[k][i].qs + 32 * j;
            __m256i t = _mm256_setzero_si256();
            for (int g = 0; g < 8; g++) t = QD_US_DOT_ACC(t, u[g], _mm256_set1_epi32((int)qd_load32(q + 4 * g)));
            sum[k] = _mm256_add_epi32(sum[k], _mm256_mullo_epi32(t, scale));
        }
    }
    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk));
    for (int k = 0; k < C; k++) acc[k] = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(b[k][i].d)), _mm256_cvtepi32_ps(sum[k]), acc[k]);
}

QD_TARGET static void QD_NAME(matmul_q4_K_packed)(int64_t n, const void *packed, int64_t r0, int64_t r1,
                                                  const void *x, size_t x_row_bytes, int64_t nx, float *y, int64_t ldy) {
    const int64_t nb = n / MUSE_QK_K;
    if (nx >= QD_BLOCK_X && nb <= QD_KQ_CHUNK) {
        QD_NAME(matmul_q4_K_tiled_from)(n, 0, 0, (const uint8_t *)packed, r0, r1, x, x_row_bytes, nx, y, ldy);
        return;
    }
    const size_t gb = muse_packed_group_bytes(MUSE_TYPE_Q4_K);
    for (int64_t r = r0; r < r1; r += 8) {
        const int R = r1 - r < 8 ? (int)(r1 - r) : 8;
        const uint8_t *group = (const uint8_t *)packed + (size_t)(r / 8) * (size_t)nb * gb;
        for (int64_t t0 = 0; t0 < nx; t0 += QD_BLOCK_X) {
            const int C = nx - t0 < QD_BLOCK_X ? (int)(nx - t0) : QD_BLOCK_X;
            const muse_block_q8_K *b[QD_BLOCK_X];
            __m256 acc[QD_BLOCK_X], acc_m[QD_BLOCK_X];
            for (int k = 0; k < QD_BLOCK_X; k++) acc[k] = acc_m[k] = _mm256_setzero_ps();
            for (int k = 0; k < C; k++) b[k] = (const muse_block_q8_K *)((const char *)x + (size_t)(t0 + k) * x_row_bytes);
            for (int64_t i = 0; i < nb; i++) {
                if (C == QD_BLOCK_X) {
                    QD_NAME(k4_packed_step)(QD_BLOCK_X, group + i * gb, b, i, acc, acc_m);
                } else {
                    QD_NAME(k4_packed_step)(C, group + i * gb, b, i, acc, acc_m);
                }
            }
            for (int k = 0; k < C; k++) QD_NAME(store_lanes)(y + (t0 + k) * ldy + r, _mm256_sub_ps(acc[k], acc_m[k]), R);
        }
    }
}
#undef QD_KQ_CHUNK

#undef QD_K_KERNELS
#undef QD_K_ROWS
#undef QD_K_CHUNK
#undef QD_MASKS_BEGIN
#undef QD_MASK
#undef QD_INLINE

#undef QD_MATMUL_SIGNED
#undef QD_ROWS
#undef QD_MAX_BLOCKS
#undef QD_TARGET
#undef QD_NAME
#undef QD_US_DOT
#undef QD_WS_DOT_ACC
#undef QD_BLOCK_X
#undef QD_US_DOT_ACC
