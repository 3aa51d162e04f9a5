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
    if (t->attention_step && t->attention_step(state, acc, q16, k, k_stride, v, v_stride, count, dk, dv, scale)) return;
    muse_attention_step_generic(t, state, acc, q16, k, k_stride, v, v_stride, count, dk, dv, scale);
}

// The reference loop, built from the table's dot, scale and mad kernels.
void muse_attention_step_generic(const muse_kernel_table *t, muse_attention_state *state, uint16_t *acc,
                                 const uint16_t *q16, const uint16_t *k, size_t k_stride,
                                 const uint16_t *v, size_t v_stride, int64_t count, int64_t dk, int64_t dv, float scale) {
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

void muse_attention_rows_step(int64_t nq, const float *const *q_rows, const int64_t *q_pos,
                              const uint16_t *k, const uint16_t *v, size_t kv_stride, int64_t count, int64_t pos0,
                              int64_t dk, int64_t dv, float scale, int64_t window,
                              float *max, float *sum, float *acc, float *scratch) {
    const muse_kernel_table *t = muse_kernels_current();
    float *k32 = scratch, *v32 = scratch + count * dk;
    for (int64_t j = 0; j < count; j++) {
        muse_f16_to_f32_row(k + (size_t)j * kv_stride, k32 + j * dk, dk);
        muse_f16_to_f32_row(v + (size_t)j * kv_stride, v32 + j * dv, dv);
    }
    float p[64];
    for (int64_t i = 0; i < nq; i++) {
        // Causal: query i sees positions up to q_pos[i] (and, with a window, from
        // q_pos[i] - window + 1); runs of at most 64 positions at a time.
        const int64_t visible = q_pos[i] - pos0 + 1 < count ? q_pos[i] - pos0 + 1 : count;
        const int64_t first = window > 0 && q_pos[i] - window + 1 - pos0 > 0 ? q_pos[i] - window + 1 - pos0 : 0;
        for (int64_t j0 = first; j0 < visible; j0 += 64) {
            const int64_t n = visible - j0 < 64 ? visible - j0 : 64;
            float tile_max = -INFINITY;
            int64_t j = 0;
            if (t->dot4_f32) {
                for (; j + 4 <= n; j += 4) t->dot4_f32(dk, q_rows[i], k32 + (j0 + j) * dk, (size_t)dk, p + j);
            }
            for (; j < n; j++) p[j] = t->dot_f32(dk, q_rows[i], k32 + (j0 + j) * dk);
            for (j = 0; j < n; j++) {
                p[j] *= scale;
                tile_max = p[j] > tile_max ? p[j] : tile_max;
            }
            const float new_max = tile_max > max[i] ? tile_max : max[i];
            const float rescale = expf(max[i] - new_max);
            float tile_sum = 0.0f;
            for (int64_t j = 0; j < n; j++) {
                p[j] = expf(p[j] - new_max);
                tile_sum += p[j];
            }
            sum[i] = sum[i] * rescale + tile_sum;
            max[i] = new_max;
            t->scale_add_rows_f32(dv, acc + i * dv, rescale, p, v32 + j0 * dv, (size_t)dv, n);
        }
    }
}
