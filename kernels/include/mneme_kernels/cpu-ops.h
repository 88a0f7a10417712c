// The CPU reference kernels. Each is written once, templated on the arithmetic type T (float for
// the production path, double for the exact reference path), and is the definition every other
// backend is tested against. Rows are contiguous; `*_stride` values count elements between rows.
#pragma once

#include <cstdint>

#include "mneme_kernels/exec.h"

namespace mneme::kernels {

enum class weight_format : uint32_t { f32, f64, bf16, f16, e4m3, e2m1 };
enum class scale_format : uint32_t { none, f32, e8m0 };

// A weight matrix W[N, K] in its stored format, with optional block scales
// S[ceil(N/block_n), ceil(K/block_k)] so that W[n, k] = decode(q[n, k]) * S[n / block_n, k / block_k].
struct weight_view {
    const uint8_t* data = nullptr;
    weight_format format = weight_format::f32;
    int64_t n = 0, k = 0;
    int64_t row_bytes = 0;  // bytes between rows of data
    const uint8_t* scale = nullptr;
    scale_format scale_fmt = scale_format::none;
    int64_t block_n = 1, block_k = 1;
    int64_t scale_row_elems = 0;  // scale elements between scale rows (ceil(K/block_k) when packed)
    // The caller knows the data holds no FP8 NaN code (a byte whose low 7 bits are all set), so the
    // fast kernels skip their per-row scan for one. False means unknown, never "has one".
    bool no_nan_codes = false;
};

// Whether no byte of data[0..bytes) has its low 7 bits all set: an e4m3 view of the bytes then
// holds no NaN code (0x7f/0xff).
bool free_of_e4m3_nan_codes(const uint8_t* data, uint64_t bytes);

// Decodes row n of W into out[0..K) in type T. FP8 weights use the float32 product
// f32(e4m3) * f32(scale), as the official dequantisation does (FORMATS.md §2).
template <class T>
void decode_weight_row(const weight_view& w, int64_t n, T* out);

// y[r, n] = alpha * sum_k x[r, k] * W[n, k]
template <class T>
void matmul(const exec_ctx& ex, const T* x, int64_t rows, int64_t x_stride, const weight_view& w, T* y,
            int64_t y_stride, double alpha);

// y = x / sqrt(mean(x^2) + eps) * weight (weight may be null); weight is given in T.
template <class T>
void rms_norm(const exec_ctx& ex, const T* x, int64_t rows, int64_t d, int64_t x_stride, const T* weight, double eps,
              T* y, int64_t y_stride);

enum class rope_layout : uint32_t { interleaved = 0, half_split = 1 };

// Rotates x[t, h, offset .. offset + n_rot) for every head h by the angle of token t, given as
// cos/sin tables [t, n_rot/2]; rows (t, h) are `*_stride` elements apart. Only the rotated slice is
// written. In place allowed (y == x).
template <class T>
void rope(const exec_ctx& ex, const T* x, int64_t tokens, int64_t heads, int64_t x_stride, const T* cos_table,
          const T* sin_table, rope_layout layout, int64_t offset, int64_t n_rot, bool inverse, T* y,
          int64_t y_stride);

// y = softmax(scale * x) per row; entries equal to -inf get probability 0.
template <class T>
void softmax(const exec_ctx& ex, const T* x, int64_t rows, int64_t n, int64_t stride, double scale, T* y);

// y = silu(min(gate, L)) * clamp(up, -L, L); limit 0 = no clamp.
template <class T>
void swiglu(const exec_ctx& ex, const T* gate, const T* up, int64_t count, double limit, T* y);

// As swiglu, then row r (n values) multiplied by row_weight[r].
template <class T>
void swiglu_weighted(const exec_ctx& ex, const T* gate, const T* up, int64_t rows, int64_t n, double limit,
                     const T* row_weight, T* y);

// Indices of the k largest values per row, descending; ties go to the lower index. NaN ranks below
// every number. k must be <= n.
template <class T>
void topk(const exec_ctx& ex, const T* x, int64_t rows, int64_t n, int64_t stride, int64_t k, int32_t* out);

}  // namespace mneme::kernels

namespace mneme::kernels {

// y[r, i] = a[r, i] + b[b_rows == 1 ? 0 : r, i]
template <class T>
void add(const exec_ctx& ex, const T* a, const T* b, int64_t rows, int64_t n, int64_t b_rows, T* y);

// y[r, i] = a[r, i] * b[b_rows == 1 ? 0 : r, i]
template <class T>
void mul(const exec_ctx& ex, const T* a, const T* b, int64_t rows, int64_t n, int64_t b_rows, T* y);

// y = x * scale + bias
template <class T>
void scale(const exec_ctx& ex, const T* x, int64_t count, double scale, double bias, T* y);

}  // namespace mneme::kernels

namespace mneme::kernels {

enum class quant_format : uint32_t { e4m3, e2m1 };

// Quantise-dequantise round trip of each row in blocks of `block` channels with power-of-two
// (ue8m0) scales, as the V3.2/V4 reference simulates its FP8/FP4 activations (FORMATS.md §5):
// e4m3: s = 2^ceil(log2(f32(max(amax, 1e-4)) * f32(1/448))); e2m1: s = 2^ceil(log2(f32(max(amax, 6*2^-126)) / 6)).
// In place allowed.
template <class T>
void quant_roundtrip(const exec_ctx& ex, const T* x, int64_t rows, int64_t n, int64_t x_stride, quant_format fmt,
                     int64_t block, T* y, int64_t y_stride);

// y = (x - mean) / sqrt(var + eps) * w + b (w, b may be null).
template <class T>
void layer_norm(const exec_ctx& ex, const T* x, int64_t rows, int64_t d, int64_t x_stride, const T* w, const T* b,
                double eps, T* y, int64_t y_stride);

// y = x · H_n / sqrt(n) per row, n a power of two (fast Walsh-Hadamard transform, Sylvester order).
template <class T>
void hadamard(const exec_ctx& ex, const T* x, int64_t rows, int64_t n, int64_t x_stride, T* y, int64_t y_stride);

struct attention_args {
    int64_t heads = 1, queries = 1;
    int64_t dk = 0, dv = 0;
    int64_t q_head_stride = 0, q_stride = 0;  // elements between heads / between queries
    int64_t k_stride = 0, v_stride = 0;       // elements between keys / values
    int64_t n_keys = 0;                       // keys available
    int64_t out_head_stride = 0, out_stride = 0;
    const int32_t* indices = nullptr;         // [queries, n_indices] or null
    int64_t n_indices = 0;
    double scale = 1.0;
    int64_t start_pos = 0;
    int64_t window = 0;
    int64_t key_start = 0;                    // position of key row 0
    // Compressed second source (V4): entries that are both keys and values, entry j complete once
    // the query position reaches (j + 1) * ratio - 1. With it, `indices` select entries of this source.
    const void* comp = nullptr;               // T* (typed at the call)
    int64_t comp_stride = 0, n_comp = 0, ratio = 0;
};

// Single-KV (MQA) softmax attention, optionally over an index list and with an attention sink
// added to the denominator only (sink may be null).
template <class T>
void attention(const exec_ctx& ex, const attention_args& a, const T* q, const T* k, const T* v, const T* sink, T* out);

// Lightning-indexer scores (see MNEME_OP_INDEXER_SCORES).
template <class T>
void indexer_scores(const exec_ctx& ex, const T* q, const T* w, const T* k, int64_t d, int64_t heads, int64_t queries,
                    int64_t n_keys, int64_t k_stride, int64_t start_pos, int64_t ratio, T* out);

// y[idx[r]] += w[r] * x[r] over rows of width n, in order of r.
template <class T>
void add_rows_scaled(const exec_ctx& ex, const T* x, int64_t rows, int64_t n, const int32_t* idx, const T* w, T* y,
                     int64_t y_rows);

}  // namespace mneme::kernels

namespace mneme::kernels {

// mHC coefficients of each token from its mixes (see MNEME_OP_HC_COEFFS). `head`: only the n pre-style
// weights. scale has 3 entries (site) or 1 (head); base has one per mix.
template <class T>
void hc_coeffs(const exec_ctx& ex, const T* mixes, int64_t tokens, int64_t n, bool head, const T* scale, const T* base,
               int64_t sinkhorn_iters, double eps, double post_mult, T* out);

// y[:, j, s] = sum_i c[s][w_off + i*n_out + j] * x[:, i, s] (+ c[s][b_off + j] * z[:, s]); x [d, n_in, S],
// c [m, S], z [d, S] (may be null), y [d, n_out, S], all contiguous.
template <class T>
void stream_mix(const exec_ctx& ex, const T* x, int64_t d, int64_t n_in, int64_t tokens, const T* c, int64_t m,
                int64_t n_out, int64_t w_off, const T* z, int64_t b_off, T* y);

struct compress_args {
    int64_t channels = 0;  // C: width of a/b rows (W, or 2W with overlap)
    int64_t width = 0;     // W: width of a pooled entry
    int64_t rows = 0;      // rows of a/b
    int64_t a_stride = 0, b_stride = 0, out_stride = 0;
    int64_t ratio = 1, first_pos = 0, first_block = 0, n_blocks = 0;
    bool overlap = false;
};

// Gated pooling of token blocks (see MNEME_OP_COMPRESS_POOL); ape is [ratio, C] contiguous.
template <class T>
void compress_pool(const exec_ctx& ex, const compress_args& a, const T* av, const T* bv, const T* ape, T* out);

// Engram gate (see MNEME_OP_ENGRAM_GATE): x [d, n, S] contiguous, kv rows of (n+1)*d values kv_stride
// apart, qw/kw [n, d] contiguous, y [d, n, S] contiguous.
template <class T>
void engram_gate(const exec_ctx& ex, const T* x, int64_t d, int64_t n, int64_t tokens, const T* kv, int64_t kv_stride,
                 const T* qw, const T* kw, double eps, double clamp, T* y);

// Causal depthwise convolution (see MNEME_OP_CAUSAL_CONV): ext [hist + tokens, c] rows contiguous, w [c, k],
// y [tokens, c].
template <class T>
void causal_conv(const exec_ctx& ex, const T* ext, int64_t channels, int64_t hist, int64_t tokens, const T* w,
                 int64_t k, int64_t dilation, bool silu, T* y);

}  // namespace mneme::kernels
