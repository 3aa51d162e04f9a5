// Weights packed at load time for the block-order kernels: the layout, the packing, and the
// scalar reference that reads it.
//
// Rows go in groups of 8 (the last group padded with zero rows). Group G's block i (32 elements
// of each of its 8 rows) is `muse_packed_group_bytes(type)` bytes at (G * nb + i) of them:
//   - the 8 rows' fp16 scales d (16 bytes), then Q4_1's 8 fp16 mins m (16 bytes);
//   - Q5_0: 32 bytes of fifth bits: bit g of byte 4l + e is the fifth bit of element 4g + e of row l;
//   - the quants as 32-bit words transposed across the rows: word (j, l), at byte 32j + 4l, is word
//     j of row l's original quant bytes. For Q8_0 (8 words) word j holds elements 4j..4j+3; for the
//     nibble types (4 words) its low nibbles hold elements 4j..4j+3 and its high nibbles
//     16+4j..16+4j+3, as in the original blocks.
// A vector of 32 bytes thus holds 4 consecutive quants of each of the 8 rows, one row per 32-bit
// lane: a byte dot against 4 activation bytes broadcast to every lane gives the 8 rows' partial
// sums in the lanes, with no horizontal sums (see quant_dots.h).
//
// Q4_K goes by 256-element superblocks, 1184 bytes per group: the 8 fp16 d (16 bytes), the 8 fp16
// dmin (16), the 6-bit sub-block scales unpacked to bytes, scale j of row l at 32 + 8j + l (64),
// the mins likewise as pairs, min 2p + h of row l at 96 + 16p + 2l + h (64, so that widening 16
// bytes gives each row's pair of mins as two 16-bit halves of its lane), then the 32 quant words
// transposed as above (1024): word w's low nibbles are elements 64(w / 8) + 4(w % 8) + 0..3, its
// high nibbles the same plus 32.
#include <string.h>
#include <math.h>
#include "internal.h"

// Elements per block of a packable type.
static int64_t block_elements(int type) { return type == MUSE_TYPE_Q4_K ? MUSE_QK_K : MUSE_QK; }

size_t muse_packed_group_bytes(int type) {
    switch (type) {
    case MUSE_TYPE_Q4_K: return 32 + 64 + 64 + 1024;
    case MUSE_TYPE_Q4_0: return 16 + 128;
    case MUSE_TYPE_Q4_1: return 32 + 128;
    case MUSE_TYPE_Q5_0: return 16 + 32 + 128;
    case MUSE_TYPE_Q8_0: return 16 + 256;
    default: return 0;
    }
}

size_t muse_packed_bytes(int type, int64_t rows, int64_t n) {
    const size_t group = muse_packed_group_bytes(type);
    const int64_t elements = block_elements(type);
    if (!group || rows <= 0 || n <= 0 || n % elements || n > MUSE_PACK_MAX_ROW) return 0;
    return (size_t)((rows + 7) / 8) * (size_t)(n / elements) * group;
}

// Where the quant words start in a group-block.
static size_t quant_offset(int type) {
    switch (type) {
    case MUSE_TYPE_Q4_1: return 32;
    case MUSE_TYPE_Q5_0: return 48;
    case MUSE_TYPE_Q4_K: return 160;
    default: return 16;
    }
}

// Q4_K's superblock i of group g.
static void pack_q4_K(const uint8_t *w, size_t w_row_bytes, int64_t rows, int64_t g, int64_t i, uint8_t *out) {
    for (int l = 0; l < 8; l++) {
        const int64_t r = 8 * g + l;
        if (r >= rows) continue;
        const muse_block_q4_K *blk = (const muse_block_q4_K *)(w + (size_t)r * w_row_bytes) + i;
        memcpy(out + 2 * l, &blk->d, 2);
        memcpy(out + 16 + 2 * l, &blk->dmin, 2);
        for (int j = 0; j < 8; j++) {
            uint8_t scale, min;
            muse_k4_scale_min(j, blk->scales, &scale, &min);
            out[32 + 8 * j + l] = scale;
            out[96 + 16 * (j / 2) + 2 * l + j % 2] = min;
        }
        for (int j = 0; j < 32; j++) memcpy(out + 160 + 32 * j + 4 * l, blk->qs + 4 * j, 4);
    }
}

void muse_pack_groups(int type, int64_t n, const void *w, size_t w_row_bytes, int64_t rows,
                      int64_t g0, int64_t g1, void *packed) {
    const size_t gb = muse_packed_group_bytes(type), qoff = quant_offset(type);
    if (type == MUSE_TYPE_Q4_K) {
        const int64_t nb = n / MUSE_QK_K;
        for (int64_t g = g0; g < g1; g++) {
            for (int64_t i = 0; i < nb; i++) {
                uint8_t *out = (uint8_t *)packed + (size_t)(g * nb + i) * gb;
                memset(out, 0, gb);
                pack_q4_K(w, w_row_bytes, rows, g, i, out);
            }
        }
        return;
    }
    const int64_t nb = n / MUSE_QK;
    const size_t block = w_row_bytes / (size_t)nb;
    const int words = type == MUSE_TYPE_Q8_0 ? 8 : 4;
    for (int64_t g = g0; g < g1; g++) {
        for (int64_t i = 0; i < nb; i++) {
            uint8_t *out = (uint8_t *)packed + (size_t)(g * nb + i) * gb;
            memset(out, 0, gb);
            for (int l = 0; l < 8; l++) {
                const int64_t r = 8 * g + l;
                if (r >= rows) continue;
                const uint8_t *blk = (const uint8_t *)w + (size_t)r * w_row_bytes + (size_t)i * block;
                memcpy(out + 2 * l, blk, 2); // d
                const uint8_t *qs = blk + 2;
                if (type == MUSE_TYPE_Q4_1) {
                    memcpy(out + 16 + 2 * l, blk + 2, 2); // m
                    qs = blk + 4;
                } else if (type == MUSE_TYPE_Q5_0) {
                    uint32_t qh;
                    memcpy(&qh, blk + 2, 4);
                    for (int e = 0; e < 4; e++) {
                        uint8_t bits = 0;
                        for (int j = 0; j < 8; j++) bits |= (uint8_t)(((qh >> (4 * j + e)) & 1) << j);
                        out[16 + 4 * l + e] = bits;
                    }
                    qs = blk + 6;
                }
                for (int j = 0; j < words; j++) memcpy(out + qoff + 32 * j + 4 * l, qs + 4 * j, 4);
            }
        }
    }
}

// Element m (0..31) of row l of a group-block, as the block-order dot multiplies it: Q4_0 and
// Q5_0 centred (q - 8, q - 16), Q8_0 signed, Q4_1 unsigned.
static int packed_quant(int type, const uint8_t *blk, int l, int m) {
    const uint8_t *qs = blk + quant_offset(type);
    if (type == MUSE_TYPE_Q8_0) return (int8_t)qs[32 * (m / 4) + 4 * l + m % 4];
    const int j = (m % 16) / 4, e = m % 4;
    const uint8_t byte = qs[32 * j + 4 * l + e];
    const int q = m < 16 ? byte & 0x0F : byte >> 4;
    switch (type) {
    case MUSE_TYPE_Q4_0: return q - 8;
    case MUSE_TYPE_Q5_0: return (q | (((blk[16 + 4 * l + e] >> (m / 4)) & 1) << 4)) - 16;
    default: return q;
    }
}

static float half_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return muse_h2f(h);
}

// Q4_K from the packed layout, with the scalar dot's integers and float steps.
static void matmul_q4_K_packed_scalar(int64_t n, const uint8_t *packed, int64_t r0, int64_t r1,
                                      const void *x, size_t x_row_bytes, int64_t nx, float *y, int64_t ldy) {
    const size_t gb = muse_packed_group_bytes(MUSE_TYPE_Q4_K);
    const int64_t nb = n / MUSE_QK_K;
    for (int64_t r = r0; r < r1; r++) {
        const int l = (int)(r % 8);
        for (int64_t t = 0; t < nx; t++) {
            const muse_block_q8_K *b = (const muse_block_q8_K *)((const uint8_t *)x + (size_t)t * x_row_bytes);
            float acc = 0.0f, acc_min = 0.0f;
            for (int64_t i = 0; i < nb; i++) {
                const uint8_t *blk = packed + (size_t)((r / 8) * nb + i) * gb;
                int32_t sum = 0, sum_min = 0;
                for (int j = 0; j < 8; j++) {
                    int dot = 0, q8sum = 0;
                    for (int m = 0; m < 32; m++) {
                        const int w = 8 * (j / 2) + m / 4; // quant word, as in the original qs
                        const uint8_t byte = blk[160 + 32 * w + 4 * l + m % 4];
                        dot += (j % 2 ? byte >> 4 : byte & 0x0F) * b[i].qs[32 * j + m];
                        q8sum += b[i].qs[32 * j + m];
                    }
                    sum += blk[32 + 8 * j + l] * dot;
                    sum_min += blk[96 + 16 * (j / 2) + 2 * l + j % 2] * q8sum;
                }
                acc = fmaf(half_at(blk + 2 * l) * b[i].d, (float)sum, acc);
                acc_min = fmaf(half_at(blk + 16 + 2 * l) * b[i].d, (float)sum_min, acc_min);
            }
            y[t * ldy + r] = acc - acc_min;
        }
    }
}

void muse_matmul_packed_scalar(int type, int64_t n, const void *packed, int64_t r0, int64_t r1,
                               const void *x, size_t x_row_bytes, int64_t nx, float *y, int64_t ldy) {
    if (type == MUSE_TYPE_Q4_K) {
        matmul_q4_K_packed_scalar(n, packed, r0, r1, x, x_row_bytes, nx, y, ldy);
        return;
    }
    const size_t gb = muse_packed_group_bytes(type);
    const int64_t nb = n / MUSE_QK;
    const int with_min = type == MUSE_TYPE_Q4_1;
    // Activation blocks: Q8_0 (d, qs) or, for Q4_1, Q8_1 (d, s, qs).
    const size_t xb = with_min ? sizeof(muse_block_q8_1) : sizeof(muse_block_q8_0), xqs = with_min ? 4 : 2;
    for (int64_t r = r0; r < r1; r++) {
        const int l = (int)(r % 8);
        for (int64_t t = 0; t < nx; t++) {
            float acc = 0.0f, offsets = 0.0f;
            for (int64_t i = 0; i < nb; i++) {
                const uint8_t *blk = (const uint8_t *)packed + (size_t)((r / 8) * nb + i) * gb;
                const uint8_t *b = (const uint8_t *)x + (size_t)t * x_row_bytes + (size_t)i * xb;
                int sum = 0;
                for (int m = 0; m < MUSE_QK; m++) sum += packed_quant(type, blk, l, m) * (int8_t)b[xqs + m];
                acc = fmaf(half_at(blk + 2 * l) * half_at(b), (float)sum, acc);
                if (with_min) offsets = fmaf(half_at(blk + 16 + 2 * l), half_at(b + 2), offsets);
            }
            y[t * ldy + r] = with_min ? acc + offsets : acc;
        }
    }
}

void muse_packed_row(int type, int64_t n, const void *packed, int64_t r, void *row) {
    const size_t gb = muse_packed_group_bytes(type), qoff = quant_offset(type);
    const int l = (int)(r % 8);
    if (type == MUSE_TYPE_Q4_K) {
        for (int64_t i = 0; i < n / MUSE_QK_K; i++) {
            const uint8_t *blk = (const uint8_t *)packed + (size_t)((r / 8) * (n / MUSE_QK_K) + i) * gb;
            muse_block_q4_K *out = (muse_block_q4_K *)row + i;
            memcpy(&out->d, blk + 2 * l, 2);
            memcpy(&out->dmin, blk + 16 + 2 * l, 2);
            // The 12 bytes of 6-bit scales and mins, as muse_k4_scale_min reads them.
            uint8_t sc[8], mn[8];
            for (int j = 0; j < 8; j++) {
                sc[j] = blk[32 + 8 * j + l];
                mn[j] = blk[96 + 16 * (j / 2) + 2 * l + j % 2];
            }
            for (int j = 0; j < 4; j++) {
                out->scales[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
                out->scales[j + 4] = (uint8_t)(mn[j] | (mn[j + 4] >> 4) << 6);
                out->scales[j + 8] = (uint8_t)((sc[j + 4] & 0x0F) | (mn[j + 4] & 0x0F) << 4);
            }
            for (int j = 0; j < 32; j++) memcpy(out->qs + 4 * j, blk + 160 + 32 * j + 4 * l, 4);
        }
        return;
    }
    const int64_t nb = n / MUSE_QK;
    const size_t block = muse_row_bytes(type, MUSE_QK);
    const int words = type == MUSE_TYPE_Q8_0 ? 8 : 4;
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *blk = (const uint8_t *)packed + (size_t)((r / 8) * nb + i) * gb;
        uint8_t *out = (uint8_t *)row + (size_t)i * block;
        memcpy(out, blk + 2 * l, 2); // d
        uint8_t *qs = out + 2;
        if (type == MUSE_TYPE_Q4_1) {
            memcpy(out + 2, blk + 16 + 2 * l, 2); // m
            qs = out + 4;
        } else if (type == MUSE_TYPE_Q5_0) {
            uint32_t qh = 0;
            for (int e = 0; e < 4; e++) {
                for (int j = 0; j < 8; j++) qh |= (uint32_t)((blk[16 + 4 * l + e] >> j) & 1) << (4 * j + e);
            }
            memcpy(out + 2, &qh, 4);
            qs = out + 6;
        }
        for (int j = 0; j < words; j++) memcpy(qs + 4 * j, blk + qoff + 32 * j + 4 * l, 4);
    }
}
