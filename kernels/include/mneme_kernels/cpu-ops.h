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
};

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
// cos/sin tables [t, n_rot/2]. In place allowed (y == x).
template <class T>
void rope(const exec_ctx& ex, const T* x, int64_t tokens, int64_t heads, int64_t d, const T* cos_table,
          const T* sin_table, rope_layout layout, int64_t offset, int64_t n_rot, bool inverse, T* y);

// y = softmax(scale * x) per row; entries equal to -inf get probability 0.
template <class T>
void softmax(const exec_ctx& ex, const T* x, int64_t rows, int64_t n, int64_t stride, double scale, T* y);

// y = silu(min(gate, L)) * clamp(up, -L, L); limit 0 = no clamp.
template <class T>
void swiglu(const exec_ctx& ex, const T* gate, const T* up, int64_t count, double limit, T* y);

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
