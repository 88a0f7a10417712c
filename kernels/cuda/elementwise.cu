// SWIGLU, ADD, MUL, SCALE (one thread per element, grid-stride) and ADD_ROWS_SCALED (one thread
// per column, rows in order, so every output element sums in the CPU reference's order).
#include "common.cuh"

namespace mneme::kernels::cuda {
namespace {

using namespace detail;

constexpr unsigned k_max_grid = 65535u * 16u;  // grid-stride loops cover the rest

unsigned grid_for(int64_t count) {
    const unsigned g = blocks_for(count, k_block);
    return g < k_max_grid ? g : k_max_grid;
}

__device__ __forceinline__ int64_t first_index() {
    return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_step() {
    return static_cast<int64_t>(gridDim.x) * blockDim.x;
}

__global__ void swiglu_kernel(const float* gate, const float* up, int64_t count, int64_t n, float limit,
                              const float* row_weight, float* y) {
    for (int64_t i = first_index(); i < count; i += grid_step()) {
        float g = gate[i], u = up[i];
        if (limit > 0.0f) {
            g = fminf(g, limit);
            u = fminf(fmaxf(u, -limit), limit);
        }
        float v = g / (1.0f + expf(-g)) * u;
        if (row_weight) v *= row_weight[i / n];
        y[i] = v;
    }
}

__global__ void add_kernel(const float* a, const float* b, int64_t count, int64_t n, bool broadcast, float* y) {
    for (int64_t i = first_index(); i < count; i += grid_step()) y[i] = a[i] + b[broadcast ? i % n : i];
}

__global__ void mul_kernel(const float* a, const float* b, int64_t count, int64_t n, bool broadcast, float* y) {
    for (int64_t i = first_index(); i < count; i += grid_step()) y[i] = a[i] * b[broadcast ? i % n : i];
}

__global__ void scale_kernel(const float* x, int64_t count, float s, float bias, float* y) {
    // __fmul_rn keeps the product rounded on its own, as the CPU computes x * s + bias.
    for (int64_t i = first_index(); i < count; i += grid_step()) y[i] = __fmul_rn(x[i], s) + bias;
}

__global__ void add_rows_scaled_kernel(const float* x, int64_t rows, int64_t n, const int32_t* idx, const float* w,
                                       float* y, int64_t y_rows) {
    for (int64_t c = first_index(); c < n; c += grid_step()) {
        for (int64_t r = 0; r < rows; ++r) {
            const int64_t dst = idx[r];
            if (dst >= 0 && dst < y_rows) y[dst * n + c] += w[r] * x[r * n + c];
        }
    }
}

}  // namespace

cudaError_t swiglu(cudaStream_t st, const float* gate, const float* up, int64_t rows, int64_t n, double limit,
                   const float* row_weight, float* y) {
    if (rows * n < 1) return cudaSuccess;
    swiglu_kernel<<<grid_for(rows * n), k_block, 0, st>>>(gate, up, rows * n, n, static_cast<float>(limit), row_weight,
                                                          y);
    return cudaGetLastError();
}

cudaError_t add(cudaStream_t st, const float* a, const float* b, int64_t rows, int64_t n, int64_t b_rows, float* y) {
    if (rows * n < 1) return cudaSuccess;
    add_kernel<<<grid_for(rows * n), k_block, 0, st>>>(a, b, rows * n, n, b_rows == 1, y);
    return cudaGetLastError();
}

cudaError_t mul(cudaStream_t st, const float* a, const float* b, int64_t rows, int64_t n, int64_t b_rows, float* y) {
    if (rows * n < 1) return cudaSuccess;
    mul_kernel<<<grid_for(rows * n), k_block, 0, st>>>(a, b, rows * n, n, b_rows == 1, y);
    return cudaGetLastError();
}

cudaError_t scale(cudaStream_t st, const float* x, int64_t count, double s, double bias, float* y) {
    if (count < 1) return cudaSuccess;
    scale_kernel<<<grid_for(count), k_block, 0, st>>>(x, count, static_cast<float>(s), static_cast<float>(bias), y);
    return cudaGetLastError();
}

cudaError_t add_rows_scaled(cudaStream_t st, const float* x, int64_t rows, int64_t n, const int32_t* idx,
                            const float* w, float* y, int64_t y_rows) {
    if (rows < 1 || n < 1) return cudaSuccess;
    add_rows_scaled_kernel<<<grid_for(n), k_block, 0, st>>>(x, rows, n, idx, w, y, y_rows);
    return cudaGetLastError();
}

}  // namespace mneme::kernels::cuda
