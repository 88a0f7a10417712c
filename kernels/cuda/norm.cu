// RMS_NORM and LAYER_NORM: one block per row, block-wide reductions (float32 accumulation).
#include "common.cuh"

namespace mneme::kernels::cuda {
namespace {

using namespace detail;

__global__ void rms_norm_kernel(const float* x, int64_t d, int64_t xs, const float* weight, float eps, float* y,
                                int64_t ys) {
    __shared__ float scratch[32];
    const float* xr = x + static_cast<int64_t>(blockIdx.x) * xs;
    float* yr = y + static_cast<int64_t>(blockIdx.x) * ys;
    float sum = 0.0f;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) sum += xr[i] * xr[i];
    sum = block_sum(sum, scratch);
    // Every thread has read its own elements before writing them, so y may alias x.
    const float inv = 1.0f / sqrtf(sum / static_cast<float>(d) + eps);
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) yr[i] = weight ? xr[i] * inv * weight[i] : xr[i] * inv;
}

__global__ void layer_norm_kernel(const float* x, int64_t d, int64_t xs, const float* w, const float* b, float eps,
                                  float* y, int64_t ys) {
    __shared__ float scratch[32];
    const float* xr = x + static_cast<int64_t>(blockIdx.x) * xs;
    float* yr = y + static_cast<int64_t>(blockIdx.x) * ys;
    float sum = 0.0f;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) sum += xr[i];
    const float mean = block_sum(sum, scratch) / static_cast<float>(d);
    float var = 0.0f;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) var += (xr[i] - mean) * (xr[i] - mean);
    var = block_sum(var, scratch) / static_cast<float>(d);
    const float inv = 1.0f / sqrtf(var + eps);
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
        float v = (xr[i] - mean) * inv;
        if (w) v *= w[i];
        if (b) v += b[i];
        yr[i] = v;
    }
}

}  // namespace

cudaError_t rms_norm(cudaStream_t st, const float* x, int64_t rows, int64_t d, int64_t x_stride, const float* weight,
                     double eps, float* y, int64_t y_stride) {
    if (rows < 1) return cudaSuccess;
    rms_norm_kernel<<<static_cast<unsigned>(rows), k_block, 0, st>>>(x, d, x_stride, weight, static_cast<float>(eps), y,
                                                                     y_stride);
    return cudaGetLastError();
}

cudaError_t layer_norm(cudaStream_t st, const float* x, int64_t rows, int64_t d, int64_t x_stride, const float* w,
                       const float* b, double eps, float* y, int64_t y_stride) {
    if (rows < 1) return cudaSuccess;
    layer_norm_kernel<<<static_cast<unsigned>(rows), k_block, 0, st>>>(x, d, x_stride, w, b, static_cast<float>(eps), y,
                                                                       y_stride);
    return cudaGetLastError();
}

}  // namespace mneme::kernels::cuda
