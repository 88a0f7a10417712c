// SOFTMAX: one block per row; entries at -inf get probability 0, a fully masked row becomes zeros.
#include "common.cuh"

namespace mneme::kernels::cuda {
namespace {

using namespace detail;

__global__ void softmax_kernel(const float* x, int64_t n, int64_t stride, float scale, float* y) {
    __shared__ float scratch[32];
    const float* xr = x + static_cast<int64_t>(blockIdx.x) * stride;
    float* yr = y + static_cast<int64_t>(blockIdx.x) * stride;
    float m = -k_inf;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) m = fmaxf(m, xr[i] * scale);
    m = block_max(m, scratch);
    if (m == -k_inf) {
        for (int64_t i = threadIdx.x; i < n; i += blockDim.x) yr[i] = 0.0f;
        return;  // uniform across the block: no thread reaches a later barrier
    }
    float sum = 0.0f;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        const float e = expf(xr[i] * scale - m);
        yr[i] = e;
        sum += e;
    }
    sum = block_sum(sum, scratch);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) yr[i] /= sum;
}

}  // namespace

cudaError_t softmax(cudaStream_t st, const float* x, int64_t rows, int64_t n, int64_t stride, double scale, float* y) {
    if (rows < 1) return cudaSuccess;
    softmax_kernel<<<static_cast<unsigned>(rows), k_block, 0, st>>>(x, n, stride, static_cast<float>(scale), y);
    return cudaGetLastError();
}

}  // namespace mneme::kernels::cuda
