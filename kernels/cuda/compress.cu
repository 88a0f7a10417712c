// COMPRESS_POOL (the DeepSeek-V4 compressor's gated pooling): one thread per (pooled entry,
// channel), a direct port of the CPU reference: per channel, a softmax over the candidates' gate
// scores (plus the position embedding) weights their values.
#include "common.cuh"

namespace mneme::kernels::cuda {
namespace {

using namespace detail;

__global__ void compress_kernel(compress_args a, const float* av, const float* bv, const float* ape, float* out) {
    const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (e >= a.n_blocks * a.width) return;
    const int64_t kb = e / a.width, d = e % a.width;
    const int64_t r = a.ratio, j = a.first_block + kb;
    // Candidates in order: block j-1 on the first half of the channels (overlap only), then block j.
    const bool prev = a.overlap && j > 0;
    const int64_t first_tok = prev ? (j - 1) * r : j * r;
    const int64_t n_cand = prev ? 2 * r : r;
    auto channel = [&](int64_t c) { return c < r && prev ? d : (a.overlap ? a.width + d : d); };
    auto score = [&](int64_t c) {
        const int64_t pos = first_tok + c, row = pos - a.first_pos, ch = channel(c);
        return bv[row * a.b_stride + ch] + ape[(pos % r) * a.channels + ch];
    };
    float m = -k_inf;
    for (int64_t c = 0; c < n_cand; ++c) m = fmaxf(m, score(c));
    float num = 0.0f, den = 0.0f;
    for (int64_t c = 0; c < n_cand; ++c) {
        const float w = expf(score(c) - m);
        num += av[(first_tok + c - a.first_pos) * a.a_stride + channel(c)] * w;
        den += w;
    }
    out[kb * a.out_stride + d] = num / den;
}

}  // namespace

cudaError_t compress_pool(cudaStream_t st, const compress_args& a, const float* av, const float* bv, const float* ape,
                          float* out) {
    const int64_t count = a.n_blocks * a.width;
    if (count < 1) return cudaSuccess;
    if (a.ratio < 1) return cudaErrorInvalidValue;
    compress_kernel<<<blocks_for(count, k_block), k_block, 0, st>>>(a, av, bv, ape, out);
    return cudaGetLastError();
}

}  // namespace mneme::kernels::cuda
