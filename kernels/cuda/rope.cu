// ROPE: one block per (token, head) row. Threads own whole pairs, so rotating in place is safe.
#include "common.cuh"

namespace mneme::kernels::cuda {
namespace {

using namespace detail;

__global__ void rope_kernel(const float* x, int64_t heads, int64_t ne0, int64_t xs, const float* cos_table,
                            const float* sin_table, bool half_split, int64_t offset, int64_t n_rot, bool inverse,
                            float* y, int64_t ys) {
    const int64_t row = blockIdx.x, t = row / heads, half = n_rot / 2;
    const float* xr = x + row * xs;
    float* yr = y + row * ys;
    if (xr != yr) {  // dst = src outside the rotated slice
        for (int64_t i = threadIdx.x; i < ne0; i += blockDim.x) {
            if (i < offset || i >= offset + n_rot) yr[i] = xr[i];
        }
    }
    const float* c = cos_table + t * half;
    const float* s = sin_table + t * half;
    for (int64_t j = threadIdx.x; j < half; j += blockDim.x) {
        const int64_t a = offset + (half_split ? j : 2 * j), b = offset + (half_split ? j + half : 2 * j + 1);
        const float sn = inverse ? -s[j] : s[j];
        const float xa = xr[a], xb = xr[b];
        yr[a] = xa * c[j] - xb * sn;
        yr[b] = xa * sn + xb * c[j];
    }
}

}  // namespace

cudaError_t rope(cudaStream_t st, const float* x, int64_t tokens, int64_t heads, int64_t ne0, int64_t x_stride,
                 const float* cos_table, const float* sin_table, bool half_split, int64_t offset, int64_t n_rot,
                 bool inverse, float* y, int64_t y_stride) {
    if (tokens * heads < 1) return cudaSuccess;
    rope_kernel<<<static_cast<unsigned>(tokens * heads), 128, 0, st>>>(x, heads, ne0, x_stride, cos_table, sin_table,
                                                                       half_split, offset, n_rot, inverse, y, y_stride);
    return cudaGetLastError();
}

}  // namespace mneme::kernels::cuda
