// MATMUL for weights in their stored format (F32, BF16, F16, FP8 e4m3, FP4 e2m1; optional F32 or
// e8m0 block scales). Two kernels:
//  * GEMV (decode, a handful of rows): one warp per output column streams its weight row once,
//    decoding 8 elements per lane in registers, and serves up to 4 activation rows from it; the
//    weights are read exactly once, which is what bounds decode speed.
//  * GEMM (prefill): 64 x 64 output tiles; each K-slice of weights is decoded once into shared
//    memory and reused by 64 activation rows.
// Products are summed in float32, in a different order than the CPU reference (tolerance-tested).
#include "common.cuh"

namespace mneme::kernels::cuda {
namespace {

using namespace detail;

// Tracks the block scale of the current K range, so a lane re-reads it only at block boundaries.
struct scale_cursor {
    int64_t begin = 0, end = 0;  // K range the cached scale covers (empty at first)
    float s = 1.0f;

    __device__ __forceinline__ float at(const weight_view& w, int64_t n, int64_t k) {
        if (k < begin || k >= end) {
            const int64_t b = k / w.block_k;
            begin = b * w.block_k;
            end = begin + w.block_k;
            s = scale_value(w, n, begin);
        }
        return s;
    }
};

// Decodes elements k0 .. k0+7 of a row (k0 a multiple of 8, all inside the row), with one wide
// load when the address is aligned.
template <weight_format F>
__device__ __forceinline__ void load8(const uint8_t* row, int64_t k0, float v[8]) {
    if constexpr (F == weight_format::e4m3) {
        const uint8_t* p = row + k0;
        if ((reinterpret_cast<uintptr_t>(p) & 7u) == 0) {
            const uint2 u = *reinterpret_cast<const uint2*>(p);
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                v[i] = e4m3_value(static_cast<uint8_t>(u.x >> (8 * i)));
                v[4 + i] = e4m3_value(static_cast<uint8_t>(u.y >> (8 * i)));
            }
            return;
        }
    } else if constexpr (F == weight_format::e2m1) {
        const uint8_t* p = row + k0 / 2;
        if ((reinterpret_cast<uintptr_t>(p) & 3u) == 0) {
            const uint32_t u = *reinterpret_cast<const uint32_t*>(p);
#pragma unroll
            for (int i = 0; i < 8; ++i) v[i] = e2m1_value((u >> (4 * i)) & 0xfu);  // element 2j: low nibble
            return;
        }
    } else if constexpr (F == weight_format::bf16 || F == weight_format::f16) {
        const uint8_t* p = row + 2 * k0;
        if ((reinterpret_cast<uintptr_t>(p) & 15u) == 0) {
            const uint4 u = *reinterpret_cast<const uint4*>(p);
            const uint32_t words[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const auto lo = static_cast<uint16_t>(words[i] & 0xffffu), hi = static_cast<uint16_t>(words[i] >> 16);
                v[2 * i] = F == weight_format::bf16 ? bf16_value(lo) : f16_value(lo);
                v[2 * i + 1] = F == weight_format::bf16 ? bf16_value(hi) : f16_value(hi);
            }
            return;
        }
    } else {
        const uint8_t* p = row + 4 * k0;
        if ((reinterpret_cast<uintptr_t>(p) & 15u) == 0) {
            const float4 a = reinterpret_cast<const float4*>(p)[0], b = reinterpret_cast<const float4*>(p)[1];
            v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
            return;
        }
    }
#pragma unroll
    for (int i = 0; i < 8; ++i) v[i] = weight_value<F>(row, k0 + i);
}

constexpr int k_gemv_warps = 8;

// One warp per weight row n, R activation rows per blockIdx.y. Lane l takes the 8-element groups
// l, l + 32, ... of K, so a warp reads 256 consecutive elements per step.
template <weight_format F, int R>
__global__ void __launch_bounds__(k_gemv_warps * 32)
    gemv_kernel(const float* __restrict__ x, int64_t rows, int64_t xs, weight_view w, float* __restrict__ y, int64_t ys,
                float alpha) {
    const int lane = threadIdx.x & 31;
    const int64_t n = static_cast<int64_t>(blockIdx.x) * k_gemv_warps + (threadIdx.x >> 5);
    const int64_t r0 = static_cast<int64_t>(blockIdx.y) * R;
    if (n >= w.n) return;  // whole warps leave together; no block-wide synchronisation below
    const uint8_t* row = w.data + n * w.row_bytes;
    const bool scaled = w.scale_fmt != scale_format::none;
    scale_cursor sc;
    float acc[R];
#pragma unroll
    for (int r = 0; r < R; ++r) acc[r] = 0.0f;
    const int64_t k_full = w.k / 8 * 8;
#pragma unroll 2  // two wide weight loads in flight per lane
    for (int64_t k0 = static_cast<int64_t>(lane) * 8; k0 < k_full; k0 += 32 * 8) {
        float v[8];
        load8<F>(row, k0, v);
        if (scaled) {
#pragma unroll
            for (int i = 0; i < 8; ++i) v[i] = __fmul_rn(v[i], sc.at(w, n, k0 + i));
        }
#pragma unroll
        for (int r = 0; r < R; ++r) {
            if (r0 + r < rows) {
                const float* xr = x + (r0 + r) * xs + k0;
#pragma unroll
                for (int i = 0; i < 8; ++i) acc[r] += xr[i] * v[i];
            }
        }
    }
    // The K tail (fewer than 8 elements), one element per lane.
    for (int64_t k = k_full + lane; k < w.k; k += 32) {
        float v = weight_value<F>(row, k);
        if (scaled) v = __fmul_rn(v, sc.at(w, n, k));
#pragma unroll
        for (int r = 0; r < R; ++r) {
            if (r0 + r < rows) acc[r] += x[(r0 + r) * xs + k] * v;
        }
    }
#pragma unroll
    for (int r = 0; r < R; ++r) {
        const float total = warp_sum(acc[r]);
        if (lane == 0 && r0 + r < rows) y[(r0 + r) * ys + n] = total * alpha;
    }
}

constexpr int k_tile = 64;   // rows of x and of W per block
constexpr int k_slice = 32;  // K per shared-memory slice

// 256 threads; thread (ty, tx) computes rows ty*4.. and weight rows tx*4.. of the 64 x 64 tile.
template <weight_format F>
__global__ void __launch_bounds__(256) gemm_kernel(const float* __restrict__ x, int64_t rows, int64_t xs, weight_view w,
                                                   float* __restrict__ y, int64_t ys, float alpha) {
    __shared__ float xs_tile[k_slice][k_tile + 1];  // [k][row]; +1 avoids bank conflicts on the stores
    __shared__ float ws_tile[k_slice][k_tile + 1];  // [k][weight row]
    const int t = threadIdx.x, ty = t / 16, tx = t % 16;
    const int64_t n_base = static_cast<int64_t>(blockIdx.x) * k_tile;
    const int64_t r_base = static_cast<int64_t>(blockIdx.y) * k_tile;
    float acc[4][4] = {};
    for (int64_t k_base = 0; k_base < w.k; k_base += k_slice) {
        for (int e = t; e < k_tile * k_slice; e += 256) {
            const int i = e / k_slice, kk = e % k_slice;  // consecutive threads walk K: coalesced reads
            const int64_t k = k_base + kk, r = r_base + i, n = n_base + i;
            xs_tile[kk][i] = (r < rows && k < w.k) ? x[r * xs + k] : 0.0f;
            ws_tile[kk][i] = (n < w.n && k < w.k) ? dequant<F>(w, w.data + n * w.row_bytes, n, k) : 0.0f;
        }
        __syncthreads();
#pragma unroll 8
        for (int kk = 0; kk < k_slice; ++kk) {
            float a[4], b[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                a[i] = xs_tile[kk][ty * 4 + i];
                b[i] = ws_tile[kk][tx * 4 + i];
            }
#pragma unroll
            for (int i = 0; i < 4; ++i) {
#pragma unroll
                for (int j = 0; j < 4; ++j) acc[i][j] += a[i] * b[j];
            }
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int64_t r = r_base + ty * 4 + i;
        if (r >= rows) continue;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int64_t n = n_base + tx * 4 + j;
            if (n < w.n) y[r * ys + n] = acc[i][j] * alpha;
        }
    }
}

template <weight_format F>
void launch(cudaStream_t st, const float* x, int64_t rows, int64_t xs, const weight_view& w, float* y, int64_t ys,
            float alpha) {
    if (rows <= 8) {
        const dim3 grid(blocks_for(w.n, k_gemv_warps), static_cast<unsigned>(rows == 1 ? 1 : (rows + 3) / 4));
        if (rows == 1) {
            gemv_kernel<F, 1><<<grid, k_gemv_warps * 32, 0, st>>>(x, rows, xs, w, y, ys, alpha);
        } else {
            gemv_kernel<F, 4><<<grid, k_gemv_warps * 32, 0, st>>>(x, rows, xs, w, y, ys, alpha);
        }
        return;
    }
    const dim3 grid(blocks_for(w.n, k_tile), blocks_for(rows, k_tile));
    gemm_kernel<F><<<grid, 256, 0, st>>>(x, rows, xs, w, y, ys, alpha);
}

}  // namespace

cudaError_t matmul(cudaStream_t st, const float* x, int64_t rows, int64_t x_stride, const weight_view& w, float* y,
                   int64_t y_stride, float alpha) {
    if (rows < 1 || w.n < 1) return cudaSuccess;
    if (blocks_for(rows, k_tile) > 65535) return cudaErrorInvalidConfiguration;
    switch (w.format) {
        case weight_format::f32:
            launch<weight_format::f32>(st, x, rows, x_stride, w, y, y_stride, alpha);
            break;
        case weight_format::bf16:
            launch<weight_format::bf16>(st, x, rows, x_stride, w, y, y_stride, alpha);
            break;
        case weight_format::f16:
            launch<weight_format::f16>(st, x, rows, x_stride, w, y, y_stride, alpha);
            break;
        case weight_format::e4m3:
            launch<weight_format::e4m3>(st, x, rows, x_stride, w, y, y_stride, alpha);
            break;
        case weight_format::e2m1:
            launch<weight_format::e2m1>(st, x, rows, x_stride, w, y, y_stride, alpha);
            break;
    }
    return cudaGetLastError();
}

}  // namespace mneme::kernels::cuda
