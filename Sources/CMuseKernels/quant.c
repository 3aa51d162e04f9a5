// Row sizes, dequantization of weight rows, and quantization of activation rows (ggml layouts).
#include <math.h>
#include <string.h>
#include "internal.h"

int muse_type_supported(int type) {
    switch (type) {
    case MUSE_TYPE_F32: case MUSE_TYPE_F16: case MUSE_TYPE_Q4_0: case MUSE_TYPE_Q4_1: case MUSE_TYPE_Q8_0:
        return 1;
    default:
        return 0;
    }
}

int muse_activation_type(int weight_type) {
    switch (weight_type) {
    case MUSE_TYPE_Q4_0: return MUSE_TYPE_Q8_0;
    case MUSE_TYPE_Q8_0: return MUSE_TYPE_Q8_0;
    case MUSE_TYPE_Q4_1: return MUSE_TYPE_Q8_1;
    case MUSE_TYPE_F16: return MUSE_TYPE_F16;
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
    default: return 0;
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
    default:
        break;
    }
}

// Activation blocks use scale 127/amax and round half to even: the formula of ggml's x86 path,
// which is what llama.cpp runs on this hardware, so our integer dots see the same inputs.
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
        for (int j = 0; j < MUSE_QK; j++) y[i].qs[j] = (int8_t)nearbyintf(x[j] * id);
    }
}

static void quantize_row_q8_1(const float *x, muse_block_q8_1 *y, int64_t n) {
    for (int64_t i = 0; i < n / MUSE_QK; i++, x += MUSE_QK) {
        const float amax = block_amax(x);
        const float d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        int sum = 0;
        for (int j = 0; j < MUSE_QK; j++) {
            const int8_t q = (int8_t)nearbyintf(x[j] * id);
            y[i].qs[j] = q;
            sum += q;
        }
        y[i].d = muse_f32_to_f16(d);
        y[i].s = muse_f32_to_f16(d * (float)sum);
    }
}

void muse_quantize_activation_row(int weight_type, const float *src, void *dst, int64_t n) {
    switch (muse_activation_type(weight_type)) {
    case MUSE_TYPE_Q8_0: quantize_row_q8_0(src, dst, n); break;
    case MUSE_TYPE_Q8_1: quantize_row_q8_1(src, dst, n); break;
    case MUSE_TYPE_F16: muse_f32_to_f16_row(src, dst, n); break;
    default: memcpy(dst, src, (size_t)n * 4); break;
    }
}
