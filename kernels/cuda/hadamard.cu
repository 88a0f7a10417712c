// HADAMARD: one block per row; the fast Walsh-Hadamard butterflies run on a copy of the row in
// shared memory (same Sylvester order as the CPU reference), then the row is scaled by n^-1/2.
#include "common.cuh"

namespace mneme::kernels::cuda {
namespace {

using namespace detail;

__global__ void hadamard_kernel(const float* x, int64_t n, int64_t xs, float norm, float* y, int64_t ys) {
    extern __shared__ float row[];
    const float* xr = x + static_cast<int64_t>(blockIdx.x) * xs;
    float* yr = y + static_cast<int64_t>(blockIdx.x) * ys;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) row[i] = xr[i];
    __syncthreads();
    for (int64_t span = 1; span < n; span *= 2) {
        // Pair p: the (p % span)-th element of the (p / span)-th group of 2*span.
        for (int64_t p = threadIdx.x; p < n / 2; p += blockDim.x) {
            const int64_t j = (p / span) * 2 * span + p % span;
            const float a = row[j], b = row[j + span];
            row[j] = a + b;
            row[j + span] = a - b;
        }
        __syncthreads();
    }
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) yr[i] = row[i] * norm;
}

}  // namespace

cudaError_t hadamard(cudaStream_t st, const float* x, int64_t rows, int64_t n, int64_t x_stride, float* y,
                     int64_t y_stride) {
    if (rows < 1) return cudaSuccess;
    if (n < 1 || n > k_hadamard_max || (n & (n - 1)) != 0) return cudaErrorInvalidValue;
    const float norm = 1.0f / sqrtf(static_cast<float>(n));
    hadamard_kernel<<<static_cast<unsigned>(rows), k_block, static_cast<size_t>(n) * sizeof(float), st>>>(
        x, n, x_stride, norm, y, y_stride);
    return cudaGetLastError();
}

}  // namespace mneme::kernels::cuda
