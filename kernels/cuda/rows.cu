// COPY and GET_ROWS: rows of a table in any stored format (optionally block-scaled), decoded into
// float32 rows. One block per output row.
#include "common.cuh"

namespace mneme::kernels::cuda {
namespace {

using namespace detail;

template <weight_format F>
__global__ void decode_rows_kernel(weight_view w, const void* idx, bool idx_is_64, float* y, int64_t ys) {
    const int64_t r = blockIdx.x;
    int64_t src = r;
    if (idx) src = idx_is_64 ? static_cast<const int64_t*>(idx)[r] : static_cast<const int32_t*>(idx)[r];
    float* out = y + r * ys;
    if (src < 0 || src >= w.n) {
        for (int64_t k = threadIdx.x; k < w.k; k += blockDim.x) out[k] = __uint_as_float(0x7fc00000u);
        return;
    }
    const uint8_t* row = w.data + src * w.row_bytes;
    for (int64_t k = threadIdx.x; k < w.k; k += blockDim.x) out[k] = dequant<F>(w, row, src, k);
}

}  // namespace

cudaError_t decode_rows(cudaStream_t st, const weight_view& w, int64_t rows, const void* idx, bool idx_is_64, float* y,
                        int64_t y_stride) {
    if (rows < 1) return cudaSuccess;
    const auto grid = static_cast<unsigned>(rows);
    switch (w.format) {
        case weight_format::f32:
            decode_rows_kernel<weight_format::f32><<<grid, k_block, 0, st>>>(w, idx, idx_is_64, y, y_stride);
            break;
        case weight_format::bf16:
            decode_rows_kernel<weight_format::bf16><<<grid, k_block, 0, st>>>(w, idx, idx_is_64, y, y_stride);
            break;
        case weight_format::f16:
            decode_rows_kernel<weight_format::f16><<<grid, k_block, 0, st>>>(w, idx, idx_is_64, y, y_stride);
            break;
        case weight_format::e4m3:
            decode_rows_kernel<weight_format::e4m3><<<grid, k_block, 0, st>>>(w, idx, idx_is_64, y, y_stride);
            break;
        case weight_format::e2m1:
            decode_rows_kernel<weight_format::e2m1><<<grid, k_block, 0, st>>>(w, idx, idx_is_64, y, y_stride);
            break;
    }
    return cudaGetLastError();
}

}  // namespace mneme::kernels::cuda
