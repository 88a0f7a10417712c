// INDEXER_SCORES (the lightning indexer of DeepSeek V3.2/V4):
//   out[s, j] = sum_h w[s, h] * relu(q[s, h, :] . k[j, :]) for causal j (j < (start_pos + s + 1) / ratio),
//   -inf otherwise.
// A block holds one query's heads in shared memory and scores a tile of keys; a warp scores one key
// at a time, each lane taking whole heads (so the heads' dot products need no shuffles), and one
// warp reduction sums the heads.
#include "common.cuh"

namespace mneme::kernels::cuda {
namespace {

using namespace detail;

constexpr int k_warps = 4;
constexpr int k_keys_per_block = 32;

__global__ void __launch_bounds__(k_warps * 32)
    indexer_kernel(const float* __restrict__ q, const float* __restrict__ w, const float* __restrict__ k, int64_t d,
                   int64_t heads, int64_t n_keys, int64_t k_stride, int64_t start_pos, int64_t ratio, int64_t tiles,
                   float* __restrict__ out) {
    extern __shared__ float smem[];
    const int64_t qpitch = d + 1;     // padded rows: lanes reading different heads hit different banks
    float* qs = smem;                 // [heads][d + 1]
    float* ws = qs + heads * qpitch;  // [heads]
    float* kbuf = ws + heads;         // [k_warps][d]
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int64_t s = blockIdx.x / tiles, j0 = (blockIdx.x % tiles) * k_keys_per_block;
    const float* qsrc = q + s * heads * d;
    for (int64_t i = threadIdx.x; i < heads * d; i += blockDim.x) qs[(i / d) * qpitch + i % d] = qsrc[i];
    for (int64_t h = threadIdx.x; h < heads; h += blockDim.x) ws[h] = w[s * heads + h];
    __syncthreads();

    const int64_t valid = (start_pos + s + 1) / ratio;
    float* kb = kbuf + warp * d;
    for (int64_t j = j0 + warp; j < j0 + k_keys_per_block && j < n_keys; j += k_warps) {
        if (j >= valid) {
            if (lane == 0) out[s * n_keys + j] = -k_inf;
            continue;
        }
        const float* kj = k + j * k_stride;
        for (int64_t c = lane; c < d; c += 32) kb[c] = kj[c];
        __syncwarp();
        float total = 0.0f;
        for (int64_t h = lane; h < heads; h += 32) {
            const float* qh = qs + h * qpitch;
            float dot = 0.0f;
            for (int64_t c = 0; c < d; ++c) dot += qh[c] * kb[c];
            total += ws[h] * fmaxf(dot, 0.0f);
        }
        total = warp_sum(total);  // also keeps kb intact until every lane is done with it
        if (lane == 0) out[s * n_keys + j] = total;
    }
}

}  // namespace

cudaError_t indexer_scores(cudaStream_t st, const float* q, const float* w, const float* k, int64_t d, int64_t heads,
                           int64_t queries, int64_t n_keys, int64_t k_stride, int64_t start_pos, int64_t ratio,
                           float* out) {
    if (queries < 1 || n_keys < 1) return cudaSuccess;
    if (d < 1 || heads < 1 || ratio < 1) return cudaErrorInvalidValue;
    const int64_t tiles = (n_keys + k_keys_per_block - 1) / k_keys_per_block;
    if (tiles * queries > 0x7fffffff) return cudaErrorInvalidValue;
    const size_t shared = sizeof(float) * static_cast<size_t>(heads * (d + 1) + heads + k_warps * d);
    if (shared > 48 * 1024) {
        // Beyond the default, the kernel opts in; the call fails when the GPU has less.
        const cudaError_t e =
            cudaFuncSetAttribute(indexer_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared));
        if (e != cudaSuccess) return e;
    }
    indexer_kernel<<<static_cast<unsigned>(tiles * queries), k_warps * 32, shared, st>>>(
        q, w, k, d, heads, n_keys, k_stride, start_pos, ratio, tiles, out);
    return cudaGetLastError();
}

}  // namespace mneme::kernels::cuda
