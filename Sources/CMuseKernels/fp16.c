// IEEE half <-> single conversion without hardware support, exact for every value (the
// bit-manipulation method of the FP16 library); plus a lookup table for hot scalar loops.
#include <math.h>
#include <string.h>
#include "internal.h"

float muse_f16_table[1 << 16];

static inline float bits_to_f32(uint32_t w) { float f; memcpy(&f, &w, 4); return f; }
static inline uint32_t f32_to_bits(float f) { uint32_t w; memcpy(&w, &f, 4); return w; }

float muse_f16_to_f32(uint16_t h) {
    const uint32_t w = (uint32_t)h << 16;
    const uint32_t sign = w & 0x80000000u;
    const uint32_t two_w = w + w;
    // Normal numbers: shift the exponent and mantissa into place, then rebias by scaling.
    const uint32_t exp_offset = 0xE0u << 23;
    const float normalized = bits_to_f32((two_w >> 4) + exp_offset) * 0x1.0p-112f;
    // Subnormals: let the FPU normalise them via a magic bias.
    const float denormalized = bits_to_f32((two_w >> 17) | (126u << 23)) - 0.5f;
    const uint32_t result = sign | (two_w < (1u << 27) ? f32_to_bits(denormalized) : f32_to_bits(normalized));
    return bits_to_f32(result);
}

uint16_t muse_f32_to_f16(float f) {
    // Scaling up then down makes the FPU do round-to-nearest-even on the mantissa for us.
    float base = (fabsf(f) * 0x1.0p+112f) * 0x1.0p-110f;
    const uint32_t w = f32_to_bits(f);
    const uint32_t shl1_w = w + w;
    const uint32_t sign = w & 0x80000000u;
    uint32_t bias = shl1_w & 0xFF000000u;
    if (bias < 0x71000000u) bias = 0x71000000u;
    base = bits_to_f32((bias >> 1) + 0x07800000u) + base;
    const uint32_t bits = f32_to_bits(base);
    const uint32_t exp_bits = (bits >> 13) & 0x00007C00u;
    const uint32_t mantissa_bits = bits & 0x00000FFFu;
    const uint32_t nonsign = exp_bits + mantissa_bits;
    return (uint16_t)((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

__attribute__((constructor)) static void muse_fill_f16_table(void) {
    for (uint32_t i = 0; i < (1u << 16); i++) muse_f16_table[i] = muse_f16_to_f32((uint16_t)i);
}

void muse_f16_to_f32_row_reference(const uint16_t *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = muse_h2f(src[i]);
}

void muse_f32_to_f16_row(const float *src, uint16_t *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = muse_f32_to_f16(src[i]);
}
