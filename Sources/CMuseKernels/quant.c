// Row sizes, dequantization of weight rows, and quantization of activation rows (ggml layouts).
#include <math.h>
#include <string.h>
#include "internal.h"

int muse_type_supported(int type) {
    switch (type) {
    case MUSE_TYPE_F32: case MUSE_TYPE_F16: case MUSE_TYPE_BF16:
    case MUSE_TYPE_Q4_0: case MUSE_TYPE_Q4_1: case MUSE_TYPE_Q5_0: case MUSE_TYPE_Q5_1: case MUSE_TYPE_Q8_0:
    case MUSE_TYPE_Q2_K: case MUSE_TYPE_Q3_K: case MUSE_TYPE_Q4_K: case MUSE_TYPE_Q5_K: case MUSE_TYPE_Q6_K:
        return 1;
    default:
        return 0;
    }
}

int muse_activation_type(int weight_type) {
    switch (weight_type) {
    case MUSE_TYPE_Q4_0: case MUSE_TYPE_Q5_0: case MUSE_TYPE_Q8_0: return MUSE_TYPE_Q8_0;
    case MUSE_TYPE_Q4_1: case MUSE_TYPE_Q5_1: return MUSE_TYPE_Q8_1;
    case MUSE_TYPE_Q2_K: case MUSE_TYPE_Q3_K: case MUSE_TYPE_Q4_K: case MUSE_TYPE_Q5_K: case MUSE_TYPE_Q6_K:
        return MUSE_TYPE_Q8_K;
    case MUSE_TYPE_F16: return MUSE_TYPE_F16;
    // BF16 weights multiply f32 activations, not BF16 ones as in ggml: a bf16 weight widens to f32
    // exactly (a shift), so the dot costs the same as f32 x f32, while rounding the activations to
    // bf16 (8-bit mantissa) would throw away precision for nothing on paths without a bf16 dot.
    default: return MUSE_TYPE_F32;
    }
}

size_t muse_row_bytes(int type, int64_t n) {
    switch (type) {
    case MUSE_TYPE_F32: return (size_t)n * 4;
    case MUSE_TYPE_F16: return (size_t)n * 2;
    case MUSE_TYPE_Q4_0: return (size_t)(n / MUSE_QK) * sizeof(muse_block_q4_0);
    case MUSE_TYPE_Q4_1: return (size_t)(n / MUSE_QK) * sizeof(muse_block_q4_1);
    case MUSE_TYPE_Q8_0: return (size_t)(n / MUSE_QK) * sizeof(muse_block_q8_0);
    case MUSE_TYPE_Q8_1: return (size_t)(n / MUSE_QK) * sizeof(muse_block_q8_1);
    case MUSE_TYPE_Q5_0: return (size_t)(n / MUSE_QK) * sizeof(muse_block_q5_0);
    case MUSE_TYPE_Q5_1: return (size_t)(n / MUSE_QK) * sizeof(muse_block_q5_1);
    case MUSE_TYPE_Q2_K: return (size_t)(n / MUSE_QK_K) * sizeof(muse_block_q2_K);
    case MUSE_TYPE_Q3_K: return (size_t)(n / MUSE_QK_K) * sizeof(muse_block_q3_K);
    case MUSE_TYPE_Q4_K: return (size_t)(n / MUSE_QK_K) * sizeof(muse_block_q4_K);
    case MUSE_TYPE_Q5_K: return (size_t)(n / MUSE_QK_K) * sizeof(muse_block_q5_K);
    case MUSE_TYPE_Q6_K: return (size_t)(n / MUSE_QK_K) * sizeof(muse_block_q6_K);
    case MUSE_TYPE_Q8_K: return (size_t)(n / MUSE_QK_K) * sizeof(muse_block_q8_K);
    case MUSE_TYPE_BF16: return (size_t)n * 2;
    default: return 0;
    }
}

// The formulas of ggml's dequantize_row_* (ggml-quants.c), element for element.

static void dequantize_row_q5_0(const muse_block_q5_0 *b, float *dst, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, dst += MUSE_QK) {
        const float d = muse_h2f(b[i].d);
        const uint32_t qh = (uint32_t)b[i].qh[0] | (uint32_t)b[i].qh[1] << 8 | (uint32_t)b[i].qh[2] << 16 | (uint32_t)b[i].qh[3] << 24;
        for (int j = 0; j < MUSE_QK / 2; j++) {
            const int x0 = ((b[i].qs[j] & 0x0F) | (((qh >> j) & 1) << 4)) - 16;
            const int x1 = ((b[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16;
            dst[j] = x0 * d;
            dst[j + MUSE_QK / 2] = x1 * d;
        }
    }
}

static void dequantize_row_q5_1(const muse_block_q5_1 *b, float *dst, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, dst += MUSE_QK) {
        const float d = muse_h2f(b[i].d), m = muse_h2f(b[i].m);
        const uint32_t qh = (uint32_t)b[i].qh[0] | (uint32_t)b[i].qh[1] << 8 | (uint32_t)b[i].qh[2] << 16 | (uint32_t)b[i].qh[3] << 24;
        for (int j = 0; j < MUSE_QK / 2; j++) {
            const int x0 = (b[i].qs[j] & 0x0F) | (((qh >> j) & 1) << 4);
            const int x1 = (b[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
            dst[j] = x0 * d + m;
            dst[j + MUSE_QK / 2] = x1 * d + m;
        }
    }
}

static void dequantize_row_q2_K(const muse_block_q2_K *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d = muse_h2f(b[i].d), dmin = muse_h2f(b[i].dmin);
        for (int h = 0; h < 2; h++) {
            const uint8_t *q = b[i].qs + 32 * h;
            for (int k = 0; k < 4; k++) {
                for (int half = 0; half < 2; half++) {
                    const uint8_t sc = b[i].scales[8 * h + 2 * k + half];
                    const float dl = d * (sc & 0x0F), ml = dmin * (sc >> 4);
                    for (int l = 16 * half; l < 16 * half + 16; l++) *y++ = dl * ((q[l] >> (2 * k)) & 3) - ml;
                }
            }
        }
    }
}

static void dequantize_row_q3_K(const muse_block_q3_K *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d = muse_h2f(b[i].d);
        for (int h = 0; h < 2; h++) {
            const uint8_t *q = b[i].qs + 32 * h;
            for (int k = 0; k < 4; k++) {
                const int bit = 4 * h + k;
                for (int half = 0; half < 2; half++) {
                    const float dl = d * muse_q3_K_scale(8 * h + 2 * k + half, b[i].scales);
                    for (int l = 16 * half; l < 16 * half + 16; l++) {
                        const int v = ((q[l] >> (2 * k)) & 3) - (((b[i].hmask[l] >> bit) & 1) ? 0 : 4);
                        *y++ = dl * v;
                    }
                }
            }
        }
    }
}

static void dequantize_row_q4_K(const muse_block_q4_K *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d = muse_h2f(b[i].d), dmin = muse_h2f(b[i].dmin);
        for (int j = 0; j < 4; j++) {
            const uint8_t *q = b[i].qs + 32 * j;
            uint8_t sc, m;
            muse_k4_scale_min(2 * j, b[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            muse_k4_scale_min(2 * j + 1, b[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] & 0x0F) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - m2;
        }
    }
}

static void dequantize_row_q5_K(const muse_block_q5_K *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d = muse_h2f(b[i].d), dmin = muse_h2f(b[i].dmin);
        for (int j = 0; j < 4; j++) {
            const uint8_t *q = b[i].qs + 32 * j;
            uint8_t sc, m;
            muse_k4_scale_min(2 * j, b[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            muse_k4_scale_min(2 * j + 1, b[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * ((q[l] & 0x0F) + (((b[i].qh[l] >> (2 * j)) & 1) << 4)) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * ((q[l] >> 4) + (((b[i].qh[l] >> (2 * j + 1)) & 1) << 4)) - m2;
        }
    }
}

static void dequantize_row_q6_K(const muse_block_q6_K *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d = muse_h2f(b[i].d);
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = b[i].ql + 64 * h, *qh = b[i].qh + 32 * h;
            const int8_t *sc = b[i].scales + 8 * h;
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * sc[is + 0] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
            y += 128;
        }
    }
}

void muse_dequantize_row(int type, const void *src, float *dst, int64_t n) {
    const int64_t nb = n / MUSE_QK;
    switch (type) {
    case MUSE_TYPE_F32:
        memcpy(dst, src, (size_t)n * 4);
        break;
    case MUSE_TYPE_F16:
        muse_f16_to_f32_row((const uint16_t *)src, dst, n);
        break;
    case MUSE_TYPE_Q4_0: {
        const muse_block_q4_0 *b = src;
        for (int64_t i = 0; i < nb; i++, dst += MUSE_QK) {
            const float d = muse_h2f(b[i].d);
            for (int j = 0; j < MUSE_QK / 2; j++) {
                dst[j] = ((b[i].qs[j] & 0x0F) - 8) * d;
                dst[j + MUSE_QK / 2] = ((b[i].qs[j] >> 4) - 8) * d;
            }
        }
        break;
    }
    case MUSE_TYPE_Q4_1: {
        const muse_block_q4_1 *b = src;
        for (int64_t i = 0; i < nb; i++, dst += MUSE_QK) {
            const float d = muse_h2f(b[i].d), m = muse_h2f(b[i].m);
            for (int j = 0; j < MUSE_QK / 2; j++) {
                dst[j] = (b[i].qs[j] & 0x0F) * d + m;
                dst[j + MUSE_QK / 2] = (b[i].qs[j] >> 4) * d + m;
            }
        }
        break;
    }
    case MUSE_TYPE_Q8_0: {
        const muse_block_q8_0 *b = src;
        for (int64_t i = 0; i < nb; i++, dst += MUSE_QK) {
            const float d = muse_h2f(b[i].d);
            for (int j = 0; j < MUSE_QK; j++) dst[j] = b[i].qs[j] * d;
        }
        break;
    }
    case MUSE_TYPE_Q8_1: {
        const muse_block_q8_1 *b = src;
        for (int64_t i = 0; i < nb; i++, dst += MUSE_QK) {
            const float d = muse_h2f(b[i].d);
            for (int j = 0; j < MUSE_QK; j++) dst[j] = b[i].qs[j] * d;
        }
        break;
    }
    case MUSE_TYPE_Q5_0: dequantize_row_q5_0(src, dst, nb); break;
    case MUSE_TYPE_Q5_1: dequantize_row_q5_1(src, dst, nb); break;
    case MUSE_TYPE_Q2_K: dequantize_row_q2_K(src, dst, n / MUSE_QK_K); break;
    case MUSE_TYPE_Q3_K: dequantize_row_q3_K(src, dst, n / MUSE_QK_K); break;
    case MUSE_TYPE_Q4_K: dequantize_row_q4_K(src, dst, n / MUSE_QK_K); break;
    case MUSE_TYPE_Q5_K: dequantize_row_q5_K(src, dst, n / MUSE_QK_K); break;
    case MUSE_TYPE_Q6_K: dequantize_row_q6_K(src, dst, n / MUSE_QK_K); break;
    case MUSE_TYPE_Q8_K: {
        const muse_block_q8_K *b = src;
        for (int64_t i = 0; i < n / MUSE_QK_K; i++, dst += MUSE_QK_K) {
            for (int j = 0; j < MUSE_QK_K; j++) dst[j] = b[i].d * b[i].qs[j];
        }
        break;
    }
    case MUSE_TYPE_BF16: {
        const uint16_t *h = src;
        for (int64_t i = 0; i < n; i++) dst[i] = muse_bf16_to_f32(h[i]);
        break;
    }
    default:
        break;
    }
}

// Activation blocks use scale 127/amax and round half to even: the formula of ggml's x86 path,
// which is what llama.cpp runs on this hardware, so our integer dots see the same inputs.

// nearbyintf in the default rounding mode, for |v| <= 2^22 (quants are at most 127): adding
// 1.5 * 2^23 leaves the rounded integer in the low mantissa bits. Inline and vectorisable, where
// nearbyintf is a library call per element.
static inline int round_half_even(float v) {
    const float t = v + 12582912.0f;
    int32_t i;
    memcpy(&i, &t, sizeof i);
    return (i & 0x007FFFFF) - 0x00400000;
}
static inline float block_amax(const float *x) {
    float amax = 0.0f;
    for (int j = 0; j < MUSE_QK; j++) {
        const float v = fabsf(x[j]);
        amax = v > amax ? v : amax;
    }
    return amax;
}

static void quantize_row_q8_0(const float *x, muse_block_q8_0 *y, int64_t n) {
    for (int64_t i = 0; i < n / MUSE_QK; i++, x += MUSE_QK) {
        const float amax = block_amax(x);
        const float d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        y[i].d = muse_f32_to_f16(d);
        for (int j = 0; j < MUSE_QK; j++) y[i].qs[j] = (int8_t)round_half_even(x[j] * id);
    }
}

static void quantize_row_q8_1(const float *x, muse_block_q8_1 *y, int64_t n) {
    for (int64_t i = 0; i < n / MUSE_QK; i++, x += MUSE_QK) {
        const float amax = block_amax(x);
        const float d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        int sum = 0;
        for (int j = 0; j < MUSE_QK; j++) {
            const int8_t q = (int8_t)round_half_even(x[j] * id);
            y[i].qs[j] = q;
            sum += q;
        }
        y[i].d = muse_f32_to_f16(d);
        y[i].s = muse_f32_to_f16(d * (float)sum);
    }
}

// Q8_K as ggml's quantize_row_q8_K_ref (which its x86 path runs): the scale comes from the element
// of largest magnitude (the first, on ties), iscale = -127 / that element, so d = 1 / iscale is
// negative when it is positive; q = round-half-even(iscale * x) capped at 127 (q >= -127 already);
// bsums[j] = sum of q[16j..16j+15]. An all-zero superblock has d = 0 and zero quants.
static void quantize_row_q8_K(const float *x, muse_block_q8_K *y, int64_t n) {
    for (int64_t i = 0; i < n / MUSE_QK_K; i++, x += MUSE_QK_K) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < MUSE_QK_K; j++) {
            const float ax = fabsf(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof(y[i]));
            continue;
        }
        const float iscale = -127.0f / max;
        for (int j = 0; j < MUSE_QK_K; j++) {
            const int v = round_half_even(iscale * x[j]);
            y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int j = 0; j < MUSE_QK_K / 16; j++) {
            int sum = 0;
            for (int l = 0; l < 16; l++) sum += y[i].qs[16 * j + l];
            y[i].bsums[j] = (int16_t)sum;
        }
        y[i].d = 1.0f / iscale;
    }
}

void muse_quantize_activation_row(int weight_type, const float *src, void *dst, int64_t n) {
    switch (muse_activation_type(weight_type)) {
    case MUSE_TYPE_Q8_0: quantize_row_q8_0(src, dst, n); break;
    case MUSE_TYPE_Q8_1: quantize_row_q8_1(src, dst, n); break;
    case MUSE_TYPE_Q8_K: quantize_row_q8_K(src, dst, n); break;
    case MUSE_TYPE_F16: muse_f32_to_f16_row(src, dst, n); break;
    default: memcpy(dst, src, (size_t)n * 4); break;
    }
}
