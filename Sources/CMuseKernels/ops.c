// Element-wise pieces of the forward pass, in the forms ggml computes them (double sums, fused
// operations and polynomial exp where ggml uses them), so results are llama.cpp's to the bit.
#include <math.h>
#include "internal.h"

uint64_t muse_read_words(const void *p, size_t bytes) {
    const uint64_t *w = p;
    const size_t n = bytes / 8;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += w[i];
        s1 += w[i + 1];
        s2 += w[i + 2];
        s3 += w[i + 3];
    }
    for (; i < n; i++) s0 += w[i];
    return s0 + s1 + s2 + s3;
}

void muse_rmsnorm(float *y, const float *x, const float *weight, int64_t n, float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    const float mean = (float)(sum / (double)n);
    const float scale = 1.0f / sqrtf(mean + eps);
    if (weight) {
        for (int64_t i = 0; i < n; i++) y[i] = (x[i] * scale) * weight[i];
    } else {
        for (int64_t i = 0; i < n; i++) y[i] = x[i] * scale;
    }
}

// exp(x) = 2^n * e^b with n = round(x / ln 2) and b = x - n ln 2 (ln 2 split in two parts for
// precision), e^b from a degree-5 polynomial; the constants and the order of fused operations are
// ggml's (ggml_v_expf for AVX-512), which llama.cpp's SiLU uses.
float muse_expf_ggml(float x) {
    const float r = 0x1.8p23f;
    const float z = fmaf(x, 0x1.715476p+0f, r);
    const float n = z - r;
    const float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
    if (fabsf(n) > 192) return n <= 0 ? 0.0f : INFINITY;
    const float u = b * b;
    const float j = fmaf(fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                         u, fmaf(0x1.ffffecp-1f, b, 1.0f));
    return ldexpf(j, (int)n);
}

void muse_swiglu_scalar(float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float g = gate[i];
        gate[i] = (g / (1.0f + muse_expf_ggml(0.0f - g))) * up[i];
    }
}

// theta for pair i is pos * base^(-2i/n_rot), built by repeated multiplication as ggml does, and
// divided by the pair's frequency factor when the model has them (Llama 3's rope scaling).
void muse_rope_norm(float *x, int64_t heads, int64_t head_dim, int64_t n_rot, int64_t pos, float base, float freq_scale,
                    const float *freq_factors) {
    const float theta_scale = powf(base, -2.0f / (float)n_rot);
    for (int64_t h = 0; h < heads; h++) {
        float *v = x + h * head_dim;
        float theta = (float)pos * freq_scale;
        for (int64_t i = 0; i < n_rot; i += 2) {
            const float angle = freq_factors ? theta / freq_factors[i / 2] : theta;
            const float c = cosf(angle), s = sinf(angle);
            const float a = v[i], b = v[i + 1];
            // Fused as the compilers of ggml contract these expressions: bit-identical results.
            v[i] = fmaf(a, c, -(b * s));
            v[i + 1] = fmaf(a, s, b * c);
            theta *= theta_scale;
        }
    }
}

void muse_rope_neox(float *x, int64_t heads, int64_t head_dim, int64_t n_rot, int64_t pos, float base, float freq_scale,
                    const float *freq_factors) {
    const float theta_scale = powf(base, -2.0f / (float)n_rot);
    const int64_t half = n_rot / 2;
    for (int64_t h = 0; h < heads; h++) {
        float *v = x + h * head_dim;
        float theta = (float)pos * freq_scale;
        for (int64_t i = 0; i < half; i++) {
            const float angle = freq_factors ? theta / freq_factors[i] : theta;
            const float c = cosf(angle), s = sinf(angle);
            const float a = v[i], b = v[i + half];
            v[i] = fmaf(a, c, -(b * s));
            v[i + half] = fmaf(a, s, b * c);
            theta *= theta_scale;
        }
    }
}

// GELU's tanh approximation, 0.5 x (1 + tanh(u)) with u = sqrt(2/pi) (x + 0.044715 x^3), as ggml's
// gelu, computed as x / (1 + exp(-2u)) (the same function) with ggml's exp, which vectorises. The
// vector paths do these operations in this order, so they give the same bits.
void muse_geglu_scalar(float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float x = gate[i];
        const float u = (MUSE_GELU_SCALE * x) * (1.0f + (MUSE_GELU_COEF * x) * x);
        gate[i] = (x / (1.0f + muse_expf_ggml(-2.0f * u))) * up[i];
    }
}
