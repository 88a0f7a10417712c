// Host-callable launchers of the CUDA kernels. Each mirrors a CPU reference kernel
// (kernels/cpu, mneme_kernels/cpu-ops.h): same arguments, float32 activations, device pointers,
// and a stream. Launchers only enqueue work; they return the launch status (cudaGetLastError),
// and execution errors surface at the next stream synchronisation. Argument checking is the
// caller's job (the plugin validates every op against its buffers before launching).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace mneme::kernels::cuda {

enum class weight_format : uint32_t { f32, bf16, f16, e4m3, e2m1 };
enum class scale_format : uint32_t { none, f32, e8m0 };

// W[n, k] in its stored format, W[n, k] = decode(q[n, k]) * S[n / block_n, k / block_k] (the
// product rounded to float32, as the CPU reference dequantises).
struct weight_view {
    const uint8_t* data = nullptr;
    weight_format format = weight_format::f32;
    int64_t n = 0, k = 0;
    int64_t row_bytes = 0;
    const uint8_t* scale = nullptr;
    scale_format scale_fmt = scale_format::none;
    int64_t block_n = 1, block_k = 1;
    int64_t scale_row_elems = 0;
};

// y[r, n] = alpha * sum_k x[r, k] * W[n, k]; a weight-streaming GEMV for few rows, a tiled GEMM
// otherwise.
cudaError_t matmul(cudaStream_t st, const float* x, int64_t rows, int64_t x_stride, const weight_view& w, float* y,
                   int64_t y_stride, float alpha);

// Row r of y = decoded row r of W (COPY) or decoded row idx[r] of W (GET_ROWS; idx I32 or I64 as
// idx_is_64). An index outside [0, n) yields a row of NaN: the indices live on the device, so the
// error is made visible in the data instead of being checked on the host.
cudaError_t decode_rows(cudaStream_t st, const weight_view& w, int64_t rows, const void* idx, bool idx_is_64, float* y,
                        int64_t y_stride);

cudaError_t rms_norm(cudaStream_t st, const float* x, int64_t rows, int64_t d, int64_t x_stride, const float* weight,
                     double eps, float* y, int64_t y_stride);
cudaError_t layer_norm(cudaStream_t st, const float* x, int64_t rows, int64_t d, int64_t x_stride, const float* w,
                       const float* b, double eps, float* y, int64_t y_stride);

// Rotates [offset, offset + n_rot) of every row (t, h) and copies the rest of the row (ne0 values)
// when y != x. cos/sin: [tokens, n_rot/2] contiguous.
cudaError_t rope(cudaStream_t st, const float* x, int64_t tokens, int64_t heads, int64_t ne0, int64_t x_stride,
                 const float* cos_table, const float* sin_table, bool half_split, int64_t offset, int64_t n_rot,
                 bool inverse, float* y, int64_t y_stride);

cudaError_t softmax(cudaStream_t st, const float* x, int64_t rows, int64_t n, int64_t stride, double scale, float* y);

// row_weight may be null; with it, row r (n values) is multiplied by row_weight[r].
cudaError_t swiglu(cudaStream_t st, const float* gate, const float* up, int64_t rows, int64_t n, double limit,
                   const float* row_weight, float* y);
cudaError_t add(cudaStream_t st, const float* a, const float* b, int64_t rows, int64_t n, int64_t b_rows, float* y);
cudaError_t mul(cudaStream_t st, const float* a, const float* b, int64_t rows, int64_t n, int64_t b_rows, float* y);
cudaError_t scale(cudaStream_t st, const float* x, int64_t count, double s, double bias, float* y);
// y[idx[r]] += w[r] * x[r], rows in order per column; an index outside [0, y_rows) is skipped.
cudaError_t add_rows_scaled(cudaStream_t st, const float* x, int64_t rows, int64_t n, const int32_t* idx,
                            const float* w, float* y, int64_t y_rows);

// The largest k a device top-k handles (its selection is sorted in shared memory).
inline constexpr int64_t k_topk_max = 4096;
cudaError_t topk(cudaStream_t st, const float* x, int64_t rows, int64_t n, int64_t stride, int64_t k, int32_t* out);

cudaError_t quant_roundtrip(cudaStream_t st, const float* x, int64_t rows, int64_t n, int64_t x_stride, bool e4m3,
                            int64_t block, float* y, int64_t y_stride);

// The widest row HADAMARD handles (the row is transformed in shared memory).
inline constexpr int64_t k_hadamard_max = 8192;
cudaError_t hadamard(cudaStream_t st, const float* x, int64_t rows, int64_t n, int64_t x_stride, float* y,
                     int64_t y_stride);

struct attention_args {
    int64_t heads = 1, queries = 1;
    int64_t dk = 0, dv = 0;
    int64_t q_head_stride = 0, q_stride = 0;
    int64_t k_stride = 0, v_stride = 0;
    int64_t n_keys = 0;
    int64_t out_head_stride = 0, out_stride = 0;
    const int32_t* indices = nullptr;  // [queries, n_indices] or null
    int64_t n_indices = 0;
    float scale = 1.0f;
    int64_t start_pos = 0, window = 0, key_start = 0;
    const float* comp = nullptr;  // compressed entries (keys and values), or null
    int64_t comp_stride = 0, n_comp = 0, ratio = 0;
};
// The widest value row ATTENTION handles (each lane keeps its share of a value row in registers).
inline constexpr int64_t k_attention_dv_max = 1024;
inline constexpr int64_t k_attention_dk_max = 4096;
cudaError_t attention(cudaStream_t st, const attention_args& a, const float* q, const float* k, const float* v,
                      const float* sink, float* out);

// Lightning-indexer scores; q [queries, heads, d], w [queries, heads], out [queries, n_keys] contiguous.
cudaError_t indexer_scores(cudaStream_t st, const float* q, const float* w, const float* k, int64_t d, int64_t heads,
                           int64_t queries, int64_t n_keys, int64_t k_stride, int64_t start_pos, int64_t ratio,
                           float* out);

cudaError_t hc_coeffs(cudaStream_t st, const float* mixes, int64_t tokens, int64_t n, bool head, const float* scale,
                      const float* base, int64_t sinkhorn_iters, double eps, double post_mult, float* out);
cudaError_t stream_mix(cudaStream_t st, const float* x, int64_t d, int64_t n_in, int64_t tokens, const float* c,
                       int64_t m, int64_t n_out, int64_t w_off, const float* z, int64_t b_off, float* y);

struct compress_args {
    int64_t channels = 0, width = 0, rows = 0;
    int64_t a_stride = 0, b_stride = 0, out_stride = 0;
    int64_t ratio = 1, first_pos = 0, first_block = 0, n_blocks = 0;
    bool overlap = false;
};
cudaError_t compress_pool(cudaStream_t st, const compress_args& a, const float* av, const float* bv, const float* ape,
                          float* out);

cudaError_t engram_gate(cudaStream_t st, const float* x, int64_t d, int64_t n, int64_t tokens, const float* kv,
                        int64_t kv_stride, const float* qw, const float* kw, double eps, double clamp, float* y);

cudaError_t causal_conv(cudaStream_t st, const float* ext, int64_t channels, int64_t hist, int64_t tokens,
                        const float* w, int64_t k, int64_t dilation, bool silu, float* y);

}  // namespace mneme::kernels::cuda
