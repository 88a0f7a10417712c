// CAUSAL_CONV (the Engram short convolution): one thread per (token, channel); the input carries
// its own history rows, as in the CPU reference.
#include "common.cuh"

namespace mneme::kernels::cuda {
namespace {

using namespace detail;

__global__ void causal_conv_kernel(const float* ext, int64_t channels, int64_t hist, int64_t tokens, const float* w,
                                   int64_t k, int64_t dilation, bool silu, float* y) {
    const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (e >= tokens * channels) return;
    const int64_t t = e / channels, c = e % channels;
    float acc = 0.0f;
    for (int64_t i = 0; i < k; ++i) {
        const int64_t row = hist + t - (k - 1 - i) * dilation;
        acc += w[c * k + i] * ext[row * channels + c];
    }
    y[e] = silu ? acc * (1.0f / (1.0f + expf(-acc))) : acc;
}

}  // namespace

cudaError_t causal_conv(cudaStream_t st, const float* ext, int64_t channels, int64_t hist, int64_t tokens,
                        const float* w, int64_t k, int64_t dilation, bool silu, float* y) {
    const int64_t count = tokens * channels;
    if (count < 1) return cudaSuccess;
    causal_conv_kernel<<<blocks_for(count, k_block), k_block, 0, st>>>(ext, channels, hist, tokens, w, k, dilation,
                                                                       silu, y);
    return cudaGetLastError();
}

}  // namespace mneme::kernels::cuda
