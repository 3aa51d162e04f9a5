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
#define MUSE_TYPE_Q5_0 6
#define MUSE_TYPE_Q5_1 7
#define MUSE_TYPE_Q8_0 8
#define MUSE_TYPE_Q8_1 9
#define MUSE_TYPE_Q2_K 10
#define MUSE_TYPE_Q3_K 11
#define MUSE_TYPE_Q4_K 12
#define MUSE_TYPE_Q5_K 13
#define MUSE_TYPE_Q6_K 14
/// Activation side of the K-quant dots only (no weight rows of this type are multiplied).
#define MUSE_TYPE_Q8_K 15
#define MUSE_TYPE_BF16 30

#define MUSE_QK 32
/// Elements of a K-quant superblock (ggml's QK_K).
#define MUSE_QK_K 256
/// Bytes of the packed 6-bit scales and mins of Q3_K, Q4_K and Q5_K (ggml's K_SCALE_SIZE).
#define MUSE_K_SCALE_SIZE 12

// Quant blocks, bit for bit as ggml lays them out (ggml-common.h). `d`, `m`, `s` are IEEE fp16.
// Q4_0: x = d * (q - 8), q a nibble; low nibbles are elements 0..15, high nibbles 16..31.
typedef struct { uint16_t d; uint8_t qs[MUSE_QK / 2]; } muse_block_q4_0;
// Q4_1: x = d * q + m.
typedef struct { uint16_t d; uint16_t m; uint8_t qs[MUSE_QK / 2]; } muse_block_q4_1;
// Q8_0: x = d * q, q signed.
typedef struct { uint16_t d; int8_t qs[MUSE_QK]; } muse_block_q8_0;
// Q8_1: as Q8_0 plus s = d * sum(q), which folds Q4_1's offset m into one multiply per block.
typedef struct { uint16_t d; uint16_t s; int8_t qs[MUSE_QK]; } muse_block_q8_1;
// Q5_0: x = d * (q - 16), q 5 bits: the nibbles as in Q4_0, bit 4 of element e is bit e of qh
// (read as a little-endian uint32).
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[MUSE_QK / 2]; } muse_block_q5_0;
// Q5_1: x = d * q + m, q 5 bits laid out as in Q5_0.
typedef struct { uint16_t d; uint16_t m; uint8_t qh[4]; uint8_t qs[MUSE_QK / 2]; } muse_block_q5_1;

// K-quants: superblocks of 256 elements in sub-blocks of 16 or 32, each with its own integer
// scale (and min) that multiplies the superblock's fp16 `d` (and `dmin`).
// Q2_K: 16 sub-blocks of 16; scales[j] low nibble is the scale, high nibble the min;
// x = d * scale * q - dmin * min, q 2 bits. Element 128h + 32k + l (h < 2, k < 4, l < 32) is bits
// 2k..2k+1 of qs[32h + l], in sub-block 8h + 2k + l / 16.
typedef struct { uint8_t scales[MUSE_QK_K / 16]; uint8_t qs[MUSE_QK_K / 4]; uint16_t d; uint16_t dmin; } muse_block_q2_K;
// Q3_K: 16 sub-blocks of 16 with 6-bit scales packed in 12 bytes (biased by 32);
// x = d * (scale - 32) * (q - 4), q the 2 low bits laid out as in Q2_K plus bit 2 = bit 4h + k of
// hmask[l] (an unset bit subtracts 4).
typedef struct { uint8_t hmask[MUSE_QK_K / 8]; uint8_t qs[MUSE_QK_K / 4]; uint8_t scales[MUSE_K_SCALE_SIZE]; uint16_t d; } muse_block_q3_K;
// Q4_K: 8 sub-blocks of 32 with 6-bit scales and mins packed in 12 bytes;
// x = d * scale * q - dmin * min. Element 64j + l is the low nibble of qs[32j + l] (sub-block 2j),
// element 64j + 32 + l its high nibble (sub-block 2j + 1).
typedef struct { uint16_t d; uint16_t dmin; uint8_t scales[MUSE_K_SCALE_SIZE]; uint8_t qs[MUSE_QK_K / 2]; } muse_block_q4_K;
// Q5_K: Q4_K plus a fifth bit: bit 2j of qh[l] for element 64j + l, bit 2j + 1 for 64j + 32 + l.
typedef struct { uint16_t d; uint16_t dmin; uint8_t scales[MUSE_K_SCALE_SIZE]; uint8_t qh[MUSE_QK_K / 8]; uint8_t qs[MUSE_QK_K / 2]; } muse_block_q5_K;
// Q6_K: 16 sub-blocks of 16 with signed 8-bit scales; x = d * scale * (q - 32), q 6 bits.
// Element 128h + 32k + l: low 4 bits from ql[64h + l + 32 * (k & 1)] (low nibble for k < 2, high
// for k >= 2), high 2 bits are bits 2k..2k+1 of qh[32h + l]; sub-block 8h + 2k + l / 16.
typedef struct { uint8_t ql[MUSE_QK_K / 2]; uint8_t qh[MUSE_QK_K / 4]; int8_t scales[MUSE_QK_K / 16]; uint16_t d; } muse_block_q6_K;
// Q8_K: x = d * q with an f32 `d`; bsums[j] is the sum of q[16j..16j+15].
typedef struct { float d; int8_t qs[MUSE_QK_K]; int16_t bsums[MUSE_QK_K / 16]; } muse_block_q8_K;

// Sizes as ggml-common.h asserts them.
_Static_assert(sizeof(muse_block_q4_0) == 18, "block_q4_0 size");
_Static_assert(sizeof(muse_block_q4_1) == 20, "block_q4_1 size");
_Static_assert(sizeof(muse_block_q5_0) == 22, "block_q5_0 size");
_Static_assert(sizeof(muse_block_q5_1) == 24, "block_q5_1 size");
_Static_assert(sizeof(muse_block_q8_0) == 34, "block_q8_0 size");
_Static_assert(sizeof(muse_block_q8_1) == 36, "block_q8_1 size");
_Static_assert(sizeof(muse_block_q2_K) == 84, "block_q2_K size");
_Static_assert(sizeof(muse_block_q3_K) == 110, "block_q3_K size");
_Static_assert(sizeof(muse_block_q4_K) == 144, "block_q4_K size");
_Static_assert(sizeof(muse_block_q5_K) == 176, "block_q5_K size");
_Static_assert(sizeof(muse_block_q6_K) == 210, "block_q6_K size");
_Static_assert(sizeof(muse_block_q8_K) == 292, "block_q8_K size");

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

/// How the Q4_0, Q5_0, Q8_0 and Q4_1 kernels sum. Block order, the default: each block's products as one exact
/// integer, then one fused multiply-add per block. ggml's order (8 float lanes per row, added up at
/// the end) is kept as a reference for comparisons with llama.cpp. Both are batch-invariant.
typedef enum {
    MUSE_ORDER_BLOCKS = 0,
    MUSE_ORDER_GGML = 1,
} muse_kernel_order;

void muse_kernels_set_order(muse_kernel_order order);
muse_kernel_order muse_kernels_order(void);

float muse_f16_to_f32(uint16_t h);
uint16_t muse_f32_to_f16(float f);
/// Exact on every path (hardware conversion where there is one).
void muse_f16_to_f32_row(const uint16_t *src, float *dst, int64_t n);
void muse_f16_to_f32_row_reference(const uint16_t *src, float *dst, int64_t n);
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
/// The same on the scalar path whatever path is selected (in the selected order): the reference the
/// fast paths are tested against.
float muse_vec_dot_reference(int weight_type, int64_t n, const void *w, const void *x);

/// y[t * ldy + r] = dot(W row r, X row t) for r in [r0, r1) and t in [0, nx).
/// W rows are `w_row_bytes` apart, X rows (converted activations) `x_row_bytes` apart.
void muse_matmul(int weight_type, int64_t n,
                 const void *w, size_t w_row_bytes, int64_t r0, int64_t r1,
                 const void *x, size_t x_row_bytes, int64_t nx,
                 float *y, int64_t ldy);
/// The three above in a given order, whatever order is selected: tests check both orders without
/// changing what other threads compute.
float muse_vec_dot_in_order(muse_kernel_order order, int weight_type, int64_t n, const void *w, const void *x);
float muse_vec_dot_reference_in_order(muse_kernel_order order, int weight_type, int64_t n, const void *w, const void *x);
void muse_matmul_in_order(muse_kernel_order order, int weight_type, int64_t n,
                          const void *w, size_t w_row_bytes, int64_t r0, int64_t r1,
                          const void *x, size_t x_row_bytes, int64_t nx,
                          float *y, int64_t ldy);

/// Weights packed for the block-order kernels (layout in packed.c): Q4_0, Q4_1, Q5_0, Q8_0 and
/// Q4_K rows regrouped at load time so that one vector holds 4 quants of each of 8 rows. The packed
/// form takes the same bytes as the rows (Q4_K 2.8 % more; plus the padding of the last group of
/// 8), and the packed matmul gives the bits of the block-order dot
/// (`muse_vec_dot_in_order(MUSE_ORDER_BLOCKS, ...)`) for every row, whatever the number of
/// activation rows.
/// The longest row packing takes, in elements.
#define MUSE_PACK_MAX_ROW 131072
/// Bytes of one group-block (8 rows x one block: 32 elements, 256 for Q4_K) of `type` packed, 0 if
/// the type has no packed form.
size_t muse_packed_group_bytes(int type);
/// Bytes of `rows` rows of `n` elements of `type` packed; 0 if they cannot be packed.
size_t muse_packed_bytes(int type, int64_t rows, int64_t n);
/// Packs the groups of 8 rows [g0, g1) of the `rows` rows at `w` into `packed` (the whole packed
/// matrix): groups are independent, so threads may pack disjoint ranges.
void muse_pack_groups(int type, int64_t n, const void *w, size_t w_row_bytes, int64_t rows,
                      int64_t g0, int64_t g1, void *packed);
/// Writes row r of a packed matrix back in the type's own layout (`muse_row_bytes(type, n)` bytes).
void muse_packed_row(int type, int64_t n, const void *packed, int64_t r, void *row);
/// y[t * ldy + r] = dot(W row r, X row t) in block order, for r in [r0, r1) (r0 a multiple of 8)
/// and t in [0, nx), W packed.
void muse_matmul_packed(int weight_type, int64_t n, const void *packed, int64_t r0, int64_t r1,
                        const void *x, size_t x_row_bytes, int64_t nx, float *y, int64_t ldy);
/// The same on the scalar path whatever path is selected: one element at a time from the layout.
void muse_matmul_packed_reference(int weight_type, int64_t n, const void *packed, int64_t r0, int64_t r1,
                                  const void *x, size_t x_row_bytes, int64_t nx, float *y, int64_t ldy);

/// The sum of the first bytes / 8 64-bit words at p (8-byte aligned): memory read as fast as the
/// hardware streams it, with nothing else to do, for the benchmark's bandwidth ceiling.
uint64_t muse_read_words(const void *p, size_t bytes);

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
/// positions up to its own, and with a sliding `window` (0: none) only the last `window` of them.
/// The keys and values are converted to f32 once for all the queries (the heads of a group share
/// them); `scratch` holds count * (dk + dv) floats.
/// Per query i the running state is max[i], sum[i] and the f32 accumulator acc + i * dv; start
/// them at -INFINITY, 0 and zeros, and finish with acc / sum.
void muse_attention_rows_step(int64_t nq, const float *const *q_rows, const int64_t *q_pos,
                              const uint16_t *k, const uint16_t *v, size_t kv_stride, int64_t count, int64_t pos0,
                              int64_t dk, int64_t dv, float scale, int64_t window,
                              float *max, float *sum, float *acc, float *scratch);
/// Rotates adjacent pairs (x[2i], x[2i+1]) of each of `heads` vectors of `head_dim` by
/// pos * freq_scale * base^(-2i/n_rot) / freq_factors[i], for the first n_rot dims (ggml's "normal"
/// rope, used by llama; freq_scale < 1 stretches the positions of a model trained with linear rope
/// scaling; freq_factors, n_rot/2 of them or NULL, are Llama 3's per-frequency scaling).
void muse_rope_norm(float *x, int64_t heads, int64_t head_dim, int64_t n_rot, int64_t pos, float base, float freq_scale,
                    const float *freq_factors);
/// The same for NEOX-style models, which rotate (x[i], x[i + n_rot/2]).
void muse_rope_neox(float *x, int64_t heads, int64_t head_dim, int64_t n_rot, int64_t pos, float base, float freq_scale,
                    const float *freq_factors);
/// gate = gelu(gate) * up, GELU in its tanh form (Gemma's feed-forward).
void muse_geglu(float *gate, const float *up, int64_t n);
/// The scalar path's GELU: the reference the others match bit for bit.
void muse_geglu_reference(float *gate, const float *up, int64_t n);

/// Single-precision matrix product, both operands with their inner dimension contiguous:
/// y[t * ldy + r] = sum_i w[r * ldw + i] * x[t * ldx + i] for r in [r0, r1) and t in [0, nx).
/// Each output is the same sum whatever r0, r1 and nx are (batch-invariant).
void muse_sgemm(int64_t k, const float *w, int64_t ldw, int64_t r0, int64_t r1,
                const float *x, int64_t ldx, int64_t nx, float *y, int64_t ldy);
/// The same with one plain loop per output: the reference the vector paths are tested against.
void muse_sgemm_reference(int64_t k, const float *w, int64_t ldw, int64_t r0, int64_t r1,
                          const float *x, int64_t ldx, int64_t nx, float *y, int64_t ldy);
/// `muse_sgemm` with fp16 weight rows (widened exactly): the same bits as `muse_sgemm` on the
/// widened rows, from half the bytes.
void muse_sgemm_f16(int64_t k, const uint16_t *w, int64_t ldw, int64_t r0, int64_t r1,
                    const float *x, int64_t ldx, int64_t nx, float *y, int64_t ldy);
void muse_sgemm_f16_reference(int64_t k, const uint16_t *w, int64_t ldw, int64_t r0, int64_t r1,
                              const float *x, int64_t ldx, int64_t nx, float *y, int64_t ldy);
/// The same product with the weights stored transposed, k-major (`wt[i * ldw + r]` is weight row r's
/// input i): y[t * ldy + r] = sum_i x[t * ldx + i] * wt[i * ldw + r] for r in [r0, r1), t in [0, nx).
/// Each output is one chain of fused multiply-adds in i order on every path, so the vector paths
/// give the reference's bits, whatever r0, r1 and nx are.
void muse_sgemm_kn(int64_t k, const float *wt, int64_t ldw, int64_t r0, int64_t r1,
                   const float *x, int64_t ldx, int64_t nx, float *y, int64_t ldy);
void muse_sgemm_kn_reference(int64_t k, const float *wt, int64_t ldw, int64_t r0, int64_t r1,
                             const float *x, int64_t ldx, int64_t nx, float *y, int64_t ldy);
/// x = exp((x - max(x)) * scale) / sum over n elements, with ggml's exp (`muse_expf_ggml`).
void muse_softmax(float *x, int64_t n, float scale);
void muse_softmax_reference(float *x, int64_t n, float scale);
/// x = gelu(x) in its exact form, x * (1 + erf(x / sqrt 2)) / 2 (Whisper's activation); the vector
/// paths evaluate erf to within 2e-7 of libm's, with a rational approximation and ggml's exp.
void muse_gelu_erf(float *x, int64_t n);
void muse_gelu_erf_reference(float *x, int64_t n);
/// y = (x - mean(x)) / sqrt(var(x) + eps) * gamma + beta over n elements.
void muse_layernorm(float *y, const float *x, const float *gamma, const float *beta, int64_t n, float eps);

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
