// TOPK on the device: one block per row.
//
// Each element becomes a 64-bit key that orders exactly as the CPU reference does: the upper 32
// bits are the value mapped to an unsigned integer that sorts like the float (NaN below every
// number, -0 equal to +0), the lower 32 bits are ~index, so among equal values the lower index is
// larger. All keys of a row are distinct, so "the k largest keys" is a well-defined set:
//  1. radix select (8 passes of 8 bits over the row, a 256-bin histogram each) finds the k-th
//     largest key T;
//  2. the keys >= T (exactly k of them) are gathered into shared memory;
//  3. a bitonic sort puts them in descending order, and the indices are written out.
#include "common.cuh"

namespace mneme::kernels::cuda {
namespace {

using namespace detail;

constexpr int k_threads = 512;

__device__ __forceinline__ uint64_t order_key(float v, int64_t index) {
    uint32_t u;
    if (isnan(v)) {
        u = 0;  // below -inf, whose mapped value is 0x007fffff
    } else {
        if (v == 0.0f) v = 0.0f;  // -0 ranks equal to +0 (then by index)
        const uint32_t bits = __float_as_uint(v);
        u = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
    }
    return (static_cast<uint64_t>(u) << 32) | static_cast<uint64_t>(~static_cast<uint32_t>(index));
}

__global__ void __launch_bounds__(k_threads)
    topk_kernel(const float* x, int64_t n, int64_t stride, int64_t k, int32_t* out) {
    __shared__ uint64_t keys[k_topk_max];
    __shared__ uint32_t hist[256];
    __shared__ uint64_t prefix_s;
    __shared__ int64_t remaining_s;
    __shared__ uint32_t count_s;
    const float* xr = x + static_cast<int64_t>(blockIdx.x) * stride;

    // 1. Radix select of the k-th largest key, 8 bits at a time from the top.
    uint64_t prefix = 0, mask = 0;
    if (threadIdx.x == 0) remaining_s = k;
    for (int shift = 56; shift >= 0; shift -= 8) {
        for (int b = threadIdx.x; b < 256; b += blockDim.x) hist[b] = 0;
        __syncthreads();
        for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
            const uint64_t key = order_key(xr[i], i);
            if ((key & mask) == prefix) atomicAdd(&hist[(key >> shift) & 0xffu], 1u);
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            // The digit of the k-th largest: walk bins from the top until they hold `remaining` keys.
            int64_t above = 0, digit = 0;
            for (int b = 255; b >= 0; --b) {
                if (above + hist[b] >= remaining_s) {
                    digit = b;
                    break;
                }
                above += hist[b];
            }
            remaining_s -= above;
            prefix_s = prefix | (static_cast<uint64_t>(digit) << shift);
        }
        __syncthreads();
        prefix = prefix_s;
        mask |= 0xffull << shift;
    }
    const uint64_t threshold = prefix;  // exactly k keys are >= threshold

    // 2. Gather the k selected keys.
    if (threadIdx.x == 0) count_s = 0;
    __syncthreads();
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        const uint64_t key = order_key(xr[i], i);
        if (key >= threshold) keys[atomicAdd(&count_s, 1u)] = key;
    }
    int64_t size = 1;
    while (size < k) size <<= 1;
    for (int64_t i = k + threadIdx.x; i < size; i += blockDim.x) keys[i] = 0;  // 0 sorts last: no real key is 0
    __syncthreads();

    // 3. Bitonic sort, descending.
    for (int64_t span = 2; span <= size; span <<= 1) {
        for (int64_t stride_j = span / 2; stride_j > 0; stride_j >>= 1) {
            for (int64_t i = threadIdx.x; i < size; i += blockDim.x) {
                const int64_t j = i ^ stride_j;
                if (j > i) {
                    const uint64_t a = keys[i], b = keys[j];
                    const bool descending = (i & span) == 0;
                    if (descending ? a < b : a > b) {
                        keys[i] = b;
                        keys[j] = a;
                    }
                }
            }
            __syncthreads();
        }
    }
    int32_t* o = out + static_cast<int64_t>(blockIdx.x) * k;
    for (int64_t i = threadIdx.x; i < k; i += blockDim.x) o[i] = static_cast<int32_t>(~static_cast<uint32_t>(keys[i]));
}

}  // namespace

cudaError_t topk(cudaStream_t st, const float* x, int64_t rows, int64_t n, int64_t stride, int64_t k, int32_t* out) {
    if (rows < 1) return cudaSuccess;
    if (k < 1 || k > n || k > k_topk_max || n > 0x7fffffff) return cudaErrorInvalidValue;
    topk_kernel<<<static_cast<unsigned>(rows), k_threads, 0, st>>>(x, n, stride, k, out);
    return cudaGetLastError();
}

}  // namespace mneme::kernels::cuda
