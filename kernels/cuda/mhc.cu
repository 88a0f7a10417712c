// DeepSeek-V4 mHC: HC_COEFFS (sigmoids and Sinkhorn on a few numbers per token: one thread per
// token, a direct port of the CPU reference working in the output row) and STREAM_MIX (one thread
// per output element).
#include "common.cuh"

namespace mneme::kernels::cuda {
namespace {

using namespace detail;

__device__ __forceinline__ float sigmoid(float x) {
    return 1.0f / (1.0f + expf(-x));
}

// Sinkhorn-Knopp on an n x n row-major matrix of logits, in the reference's order: row softmax + eps,
// a column normalisation, then (iters - 1) row/column pairs, each dividing by (sum + eps).
__device__ void sinkhorn(float* c, int64_t n, int64_t iters, float eps) {
    for (int64_t i = 0; i < n; ++i) {
        float* row = c + i * n;
        float m = row[0];
        for (int64_t j = 1; j < n; ++j) m = row[j] > m ? row[j] : m;
        float sum = 0.0f;
        for (int64_t j = 0; j < n; ++j) sum += (row[j] = expf(row[j] - m));
        for (int64_t j = 0; j < n; ++j) row[j] = row[j] / sum + eps;
    }
    for (int64_t it = 0; it < iters; ++it) {
        if (it > 0) {
            for (int64_t i = 0; i < n; ++i) {
                float* row = c + i * n;
                float sum = 0.0f;
                for (int64_t j = 0; j < n; ++j) sum += row[j];
                for (int64_t j = 0; j < n; ++j) row[j] /= sum + eps;
            }
        }
        for (int64_t j = 0; j < n; ++j) {
            float sum = 0.0f;
            for (int64_t i = 0; i < n; ++i) sum += c[i * n + j];
            for (int64_t i = 0; i < n; ++i) c[i * n + j] /= sum + eps;
        }
    }
}

__global__ void hc_coeffs_kernel(const float* mixes, int64_t tokens, int64_t n, bool head, const float* scale,
                                 const float* base, int64_t iters, float eps, float post_mult, float* out) {
    const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (t >= tokens) return;
    const int64_t m = head ? n : (2 + n) * n;
    const float* mx = mixes + t * m;
    float* o = out + t * m;
    for (int64_t i = 0; i < n; ++i) o[i] = sigmoid(mx[i] * scale[0] + base[i]) + eps;
    if (head) return;
    for (int64_t j = n; j < 2 * n; ++j) o[j] = post_mult * sigmoid(mx[j] * scale[1] + base[j]);
    for (int64_t k = 2 * n; k < m; ++k) o[k] = mx[k] * scale[2] + base[k];
    sinkhorn(o + 2 * n, n, iters, eps);
}

__global__ void stream_mix_kernel(const float* x, int64_t d, int64_t n_in, int64_t tokens, const float* c, int64_t m,
                                  int64_t n_out, int64_t w_off, const float* z, int64_t b_off, float* y) {
    const int64_t count = tokens * n_out * d;
    for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < count;
         e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const int64_t q = e % d, j = (e / d) % n_out, t = e / (d * n_out);
        const float* ct = c + t * m;
        const float* xt = x + t * n_in * d;
        float acc = 0.0f;
        for (int64_t i = 0; i < n_in; ++i) acc += ct[w_off + i * n_out + j] * xt[i * d + q];
        y[e] = z ? ct[b_off + j] * z[t * d + q] + acc : acc;
    }
}

}  // namespace

cudaError_t hc_coeffs(cudaStream_t st, const float* mixes, int64_t tokens, int64_t n, bool head, const float* scale,
                      const float* base, int64_t sinkhorn_iters, double eps, double post_mult, float* out) {
    if (tokens < 1) return cudaSuccess;
    hc_coeffs_kernel<<<blocks_for(tokens, 64), 64, 0, st>>>(mixes, tokens, n, head, scale, base, sinkhorn_iters,
                                                            static_cast<float>(eps), static_cast<float>(post_mult),
                                                            out);
    return cudaGetLastError();
}

cudaError_t stream_mix(cudaStream_t st, const float* x, int64_t d, int64_t n_in, int64_t tokens, const float* c,
                       int64_t m, int64_t n_out, int64_t w_off, const float* z, int64_t b_off, float* y) {
    const int64_t count = tokens * n_out * d;
    if (count < 1) return cudaSuccess;
    const unsigned grid = blocks_for(count, k_block) < 65535u * 16u ? blocks_for(count, k_block) : 65535u * 16u;
    stream_mix_kernel<<<grid, k_block, 0, st>>>(x, d, n_in, tokens, c, m, n_out, w_off, z, b_off, y);
    return cudaGetLastError();
}

}  // namespace mneme::kernels::cuda
