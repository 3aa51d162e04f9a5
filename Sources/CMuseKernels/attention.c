// Attention of one query over cached fp16 keys and values with an online softmax, in the
// arithmetic of ggml's CPU flash attention: the query rounded to fp16, scores from the fp16 dot,
// and the weighted sum of values kept in an fp16 accumulator that is rescaled whenever a new
// maximum score appears.
#include <math.h>
#include <string.h>
#include "internal.h"

const muse_kernel_table *muse_kernels_current(void);

void muse_attention_begin(muse_attention_state *state, uint16_t *acc, int64_t dv) {
    state->max = -INFINITY;
    state->sum = 0.0f;
    memset(acc, 0, (size_t)dv * sizeof(uint16_t));
}

void muse_attention_step(muse_attention_state *state, uint16_t *acc, const uint16_t *q16,
                         const uint16_t *k, size_t k_stride, const uint16_t *v, size_t v_stride,
                         int64_t count, int64_t dk, int64_t dv, float scale) {
    const muse_kernel_table *t = muse_kernels_current();
    float max = state->max, sum = state->sum;
    for (int64_t i = 0; i < count; i++) {
        const float s = t->dot_f16_f16(dk, k + (size_t)i * k_stride, q16) * scale;
        float ms = 1.0f, vs = 1.0f;
        if (s > max) {
            // A new maximum: everything summed so far shrinks by exp(old - new); this one weighs 1.
            ms = expf(max - s);
            max = s;
            t->scale_f16(dv, acc, ms);
        } else {
            vs = expf(s - max);
        }
        t->mad_f16(dv, acc, v + (size_t)i * v_stride, vs);
        sum = fmaf(sum, ms, vs); // fused, as the compilers of ggml contract it
    }
    state->max = max;
    state->sum = sum;
}

void muse_attention_end(const muse_attention_state *state, const uint16_t *acc, float *out, int64_t dv) {
    const float inv = state->sum == 0.0f ? 0.0f : 1.0f / state->sum;
    for (int64_t i = 0; i < dv; i++) out[i] = muse_h2f(acc[i]) * inv;
}
