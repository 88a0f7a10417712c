// Device helpers shared by the CUDA kernels: block reductions and exact decoders of the stored
// number formats (bit-for-bit the values of kernels/include/mneme_kernels/number-formats.h).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "mneme_kernels/cuda-ops.h"

namespace mneme::kernels::cuda::detail {

inline constexpr int k_block = 256;  // threads of the one-block-per-row kernels
inline constexpr float k_inf = __builtin_huge_valf();

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum over the block; every thread gets the result. blockDim.x must be a multiple of 32 (at most
// 1024), and every thread of the block must call it. `scratch` holds 32 floats.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();  // scratch may still be read by a previous reduction
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : 0.0f;
    return warp_sum(v);
}

// Maximum over the block (NaN-ignoring, as fmaxf); same contract as block_sum.
__device__ __forceinline__ float block_max(float v, float* scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : -k_inf;
    return warp_max(v);
}

__device__ __forceinline__ float bf16_value(uint16_t h) {
    return __uint_as_float(static_cast<uint32_t>(h) << 16);
}

__device__ __forceinline__ float f16_value(uint16_t h) {
    return __half2float(__ushort_as_half(h));
}

// float8 e4m3fn: 0x7f/0xff are NaN, exponent 0 is subnormal (m * 2^-9), no infinities.
__device__ __forceinline__ float e4m3_value(uint8_t b) {
    const uint32_t exp = (b >> 3) & 0xfu, man = b & 0x7u, sign = static_cast<uint32_t>(b & 0x80u) << 24;
    if (exp == 0xf && man == 0x7) return __uint_as_float(0x7fc00000u);
    if (exp == 0) return __uint_as_float(sign | __float_as_uint(static_cast<float>(man) * (1.0f / 512.0f)));
    return __uint_as_float(sign | ((exp + 120u) << 23) | (man << 20));  // bias 7 -> 127
}

// FP4 e2m1 nibble: magnitudes 0, .5, 1, 1.5, 2, 3, 4, 6; bit 3 is the sign.
__device__ __forceinline__ float e2m1_value(uint32_t nibble) {
    const uint32_t e = (nibble >> 1) & 3u, m = nibble & 1u;
    const float mag = e == 0 ? 0.5f * static_cast<float>(m)
                             : (1.0f + 0.5f * static_cast<float>(m)) * static_cast<float>(1u << (e - 1));
    return (nibble & 8u) ? -mag : mag;
}

// e8m0 scale: 2^(b - 127), 0xff is NaN; b = 0 is the subnormal 2^-127.
__device__ __forceinline__ float e8m0_value(uint8_t b) {
    if (b == 0xff) return __uint_as_float(0x7fc00000u);
    if (b == 0) return __uint_as_float(0x00400000u);
    return __uint_as_float(static_cast<uint32_t>(b) << 23);
}

// Element k of a stored weight row. Loads are byte-aligned where the format allows and
// element-aligned otherwise (the plugin checks the alignment of F32/BF16/F16 rows).
template <weight_format F>
__device__ __forceinline__ float weight_value(const uint8_t* row, int64_t k) {
    if constexpr (F == weight_format::f32) {
        return reinterpret_cast<const float*>(row)[k];
    } else if constexpr (F == weight_format::bf16) {
        return bf16_value(reinterpret_cast<const uint16_t*>(row)[k]);
    } else if constexpr (F == weight_format::f16) {
        return f16_value(reinterpret_cast<const uint16_t*>(row)[k]);
    } else if constexpr (F == weight_format::e4m3) {
        return e4m3_value(row[k]);
    } else {
        const uint8_t byte = row[k >> 1];
        return e2m1_value((k & 1) ? (byte >> 4) : (byte & 0xfu));
    }
}

__device__ __forceinline__ float scale_value(const weight_view& w, int64_t n, int64_t k) {
    const int64_t idx = (n / w.block_n) * w.scale_row_elems + (k / w.block_k);
    if (w.scale_fmt == scale_format::f32) return reinterpret_cast<const float*>(w.scale)[idx];
    return e8m0_value(w.scale[idx]);
}

// Dequantised W[n, k]: the float32 product of element and block scale.
template <weight_format F>
__device__ __forceinline__ float dequant(const weight_view& w, const uint8_t* row, int64_t n, int64_t k) {
    const float v = weight_value<F>(row, k);
    return w.scale_fmt == scale_format::none ? v : __fmul_rn(v, scale_value(w, n, k));
}

inline unsigned blocks_for(int64_t count, int threads) {
    return static_cast<unsigned>((count + threads - 1) / threads);
}

}  // namespace mneme::kernels::cuda::detail
