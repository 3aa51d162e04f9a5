// CMuseKernels: the engine's hot loops. Plain C, no allocation, no threads; each routine has a
// portable reference version and, where it pays, AVX2/AVX-512 versions chosen at run time.
#ifndef CMUSEKERNELS_H
#define CMUSEKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// ggml type ids (the subset whose rows the engine multiplies or dequantizes).
#define MUSE_TYPE_F32 0
#define MUSE_TYPE_F16 1
#define MUSE_TYPE_Q4_0 2
#define MUSE_TYPE_Q4_1 3
#define MUSE_TYPE_Q8_0 8
#define MUSE_TYPE_Q8_1 9

#define MUSE_QK 32

// Quant blocks, bit for bit as ggml lays them out (ggml-common.h). `d`, `m`, `s` are IEEE fp16.
// Q4_0: x = d * (q - 8), q a nibble; low nibbles are elements 0..15, high nibbles 16..31.
typedef struct { uint16_t d; uint8_t qs[MUSE_QK / 2]; } muse_block_q4_0;
// Q4_1: x = d * q + m.
typedef struct { uint16_t d; uint16_t m; uint8_t qs[MUSE_QK / 2]; } muse_block_q4_1;
// Q8_0: x = d * q, q signed.
typedef struct { uint16_t d; int8_t qs[MUSE_QK]; } muse_block_q8_0;
// Q8_1: as Q8_0 plus s = d * sum(q), which folds Q4_1's offset m into one multiply per block.
typedef struct { uint16_t d; uint16_t s; int8_t qs[MUSE_QK]; } muse_block_q8_1;

// Instruction-set paths. The scalar path is the reference every other path is tested against.
typedef enum {
    MUSE_PATH_SCALAR = 0,
    MUSE_PATH_AVX2 = 1,
    MUSE_PATH_AVX_VNNI = 2,
    /// The same 256-bit kernels with the AVX-512 encoding of the byte dot (AVX512-VNNI with VL), for
    /// CPUs that have it without AVX-VNNI (AMD Zen 4, Intel Xeon before Sapphire Rapids).
    MUSE_PATH_AVX512_VNNI = 3,
} muse_kernel_path;

/// 1 if this CPU can run `path`.
int muse_cpu_supports(muse_kernel_path path);
/// Selects the path used by every dispatched routine; returns 0, or -1 if the CPU lacks it.
int muse_kernels_select(muse_kernel_path path);
/// The path in use (the best supported one until `muse_kernels_select` says otherwise).
muse_kernel_path muse_kernels_active(void);

float muse_f16_to_f32(uint16_t h);
uint16_t muse_f32_to_f16(float f);
void muse_f16_to_f32_row(const uint16_t *src, float *dst, int64_t n);
void muse_f32_to_f16_row(const float *src, uint16_t *dst, int64_t n);

/// 1 if the engine can multiply rows of weights of this type.
int muse_type_supported(int type);
/// The type a weight type's activations are converted to before a dot product (ggml's vec_dot_type).
int muse_activation_type(int weight_type);
/// Bytes of one row of `n` elements of `type` (n a multiple of the type's block size).
size_t muse_row_bytes(int type, int64_t n);

/// Dequantizes `n` elements of a row of `type` into f32.
void muse_dequantize_row(int type, const void *src, float *dst, int64_t n);
/// Converts an f32 row into `muse_activation_type(weight_type)`: the activation side of a dot.
void muse_quantize_activation_row(int weight_type, const float *src, void *dst, int64_t n);

/// Dot product of a weight row of `weight_type` with an activation row already converted by
/// `muse_quantize_activation_row`; `n` elements.
float muse_vec_dot(int weight_type, int64_t n, const void *w, const void *x);
/// The same on the scalar path whatever is selected: the reference the fast paths are tested against.
float muse_vec_dot_reference(int weight_type, int64_t n, const void *w, const void *x);

/// y[t * ldy + r] = dot(W row r, X row t) for r in [r0, r1) and t in [0, nx).
/// W rows are `w_row_bytes` apart, X rows (converted activations) `x_row_bytes` apart.
void muse_matmul(int weight_type, int64_t n,
                 const void *w, size_t w_row_bytes, int64_t r0, int64_t r1,
                 const void *x, size_t x_row_bytes, int64_t nx,
                 float *y, int64_t ldy);

// Float helpers of the forward pass.
/// y = x / sqrt(mean(x^2) + eps) * weight (weight may be NULL).
void muse_rmsnorm(float *y, const float *x, const float *weight, int64_t n, float eps);
/// gate = silu(gate) * up, with ggml's vectorised exp (a polynomial, not libm's expf), so that
/// results are bit-identical to llama.cpp's.
void muse_swiglu(float *gate, const float *up, int64_t n);
/// The same on the scalar path whatever is selected.
void muse_swiglu_reference(float *gate, const float *up, int64_t n);
/// exp(x) as ggml's 512-bit vector code computes it (max error about 1.5 ulp).
float muse_expf_ggml(float x);

/// Running state of one query's online-softmax attention (see muse_attention_step).
typedef struct {
    float max;  // largest score so far
    float sum;  // sum of exp(score - max) so far
} muse_attention_state;

/// Starts a query: zeroes the fp16 accumulator of `dv` values.
void muse_attention_begin(muse_attention_state *state, uint16_t *acc, int64_t dv);
/// Folds `count` cached positions into the query's state. Keys and values are fp16 rows `k_stride`
/// and `v_stride` elements apart; `q16` is the query in fp16; scores are dot * `scale`.
/// The arithmetic is that of ggml's CPU flash attention (fp16 query, fp16 accumulator, online
/// softmax), which is what llama.cpp runs by default.
void muse_attention_step(muse_attention_state *state, uint16_t *acc, const uint16_t *q16,
                         const uint16_t *k, size_t k_stride, const uint16_t *v, size_t v_stride,
                         int64_t count, int64_t dk, int64_t dv, float scale);
/// Writes the attention output: the accumulator divided by the softmax sum.
void muse_attention_end(const muse_attention_state *state, const uint16_t *acc, float *out, int64_t dv);

/// Causal attention for many queries at once (prompt processing), in f32: `nq` query rows
/// (`q_rows[i]`, at sequence position `q_pos[i]`) against `count` cached positions starting at
/// `pos0`, whose fp16 keys and values are rows `kv_stride` elements apart. Each query sees only
/// positions up to its own. The keys and values are converted to f32 once for all the queries
/// (the heads of a group share them); `scratch` holds count * (dk + dv) floats.
/// Per query i the running state is max[i], sum[i] and the f32 accumulator acc + i * dv; start
/// them at -INFINITY, 0 and zeros, and finish with acc / sum.
void muse_attention_rows_step(int64_t nq, const float *const *q_rows, const int64_t *q_pos,
                              const uint16_t *k, const uint16_t *v, size_t kv_stride, int64_t count, int64_t pos0,
                              int64_t dk, int64_t dv, float scale,
                              float *max, float *sum, float *acc, float *scratch);
/// Rotates adjacent pairs (x[2i], x[2i+1]) of each of `heads` vectors of `head_dim` by pos*theta_i,
/// theta_i = base^(-2i/n_rot), for the first n_rot dims (ggml's "normal" rope, used by llama).
void muse_rope_norm(float *x, int64_t heads, int64_t head_dim, int64_t n_rot, int64_t pos, float base);
/// The same for NEOX-style models, which rotate (x[i], x[i + n_rot/2]).
void muse_rope_neox(float *x, int64_t heads, int64_t head_dim, int64_t n_rot, int64_t pos, float base);

/// A hint to the CPU that the caller is spinning (PAUSE on x86), for the worker pool's waits.
static inline void muse_cpu_relax(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

#ifdef __cplusplus
}
#endif
#endif
