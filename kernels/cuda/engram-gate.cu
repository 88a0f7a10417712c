// ENGRAM_GATE: one block per (token, stream). Three block reductions (the two RMS norms and the
// gated dot product), then the signed-sqrt sigmoid scales the shared value row.
#include "common.cuh"

namespace mneme::kernels::cuda {
namespace {

using namespace detail;

__global__ void engram_gate_kernel(const float* x, int64_t d, int64_t n, const float* kv, int64_t kv_stride,
                                   const float* qw, const float* kw, float eps, float clamp, float* y) {
    __shared__ float scratch[32];
    const int64_t r = blockIdx.x, t = r / n, m = r % n;
    const float* xs = x + (t * n + m) * d;
    const float* key = kv + t * kv_stride + m * d;
    const float* value = kv + t * kv_stride + n * d;
    float sk = 0.0f, sq = 0.0f;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
        sk += key[i] * key[i];
        sq += xs[i] * xs[i];
    }
    sk = block_sum(sk, scratch);
    sq = block_sum(sq, scratch);
    const float rk = sqrtf(sk / static_cast<float>(d) + eps), rq = sqrtf(sq / static_cast<float>(d) + eps);
    float g = 0.0f;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x)
        g += (kw[m * d + i] * key[i] / rk) * (qw[m * d + i] * xs[i] / rq);
    g = block_sum(g, scratch) / sqrtf(static_cast<float>(d));
    // Signed square root; sign(0) = 0 keeps an exact zero at zero.
    const float mag = sqrtf(fmaxf(fabsf(g), clamp));
    g = g > 0.0f ? mag : (g < 0.0f ? -mag : 0.0f);
    const float alpha = 1.0f / (1.0f + expf(-g));
    float* out = y + (t * n + m) * d;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) out[i] = alpha * value[i];
}

}  // namespace

cudaError_t engram_gate(cudaStream_t st, const float* x, int64_t d, int64_t n, int64_t tokens, const float* kv,
                        int64_t kv_stride, const float* qw, const float* kw, double eps, double clamp, float* y) {
    if (tokens * n < 1) return cudaSuccess;
    engram_gate_kernel<<<static_cast<unsigned>(tokens * n), k_block, 0, st>>>(
        x, d, n, kv, kv_stride, qw, kw, static_cast<float>(eps), static_cast<float>(clamp), y);
    return cudaGetLastError();
}

}  // namespace mneme::kernels::cuda
