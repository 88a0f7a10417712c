// QUANT_ROUNDTRIP: one warp per (row, block of channels). The rounding itself runs in double,
// exactly as the CPU reference does (kernels/cpu/quant.cpp), so both produce the same values:
// a flipped FP8/FP4 rounding would perturb a value by a few percent.
#include "common.cuh"

namespace mneme::kernels::cuda {
namespace {

using namespace detail;

// Smallest power of two >= s from the float32 bits (exponent, +1 when the mantissa is non-zero).
__device__ double ceil_pow2(float s) {
    const uint32_t bits = __float_as_uint(s);
    int exp = static_cast<int>((bits >> 23) & 0xffu) - 127;
    if (bits & 0x7fffffu) exp += 1;
    return ldexp(1.0, exp);
}

// Nearest e4m3 value of x (ties to even), saturating at +-448; returns the value, not the code.
__device__ double round_e4m3(double x) {
    if (isnan(x)) return x;
    const double a = fabs(x);
    double q;
    if (a >= 448.0) {
        q = 448.0;
    } else if (a < 0.015625) {  // 2^-6: subnormals, multiples of 2^-9
        q = rint(a * 512.0) / 512.0;
    } else {
        int e;
        frexp(a, &e);  // a in [2^(e-1), 2^e)
        const double step = ldexp(1.0, e - 1 - 3);
        q = rint(a / step) * step;
        if (q > 448.0) q = 448.0;
    }
    return signbit(x) ? -q : q;
}

// Nearest e2m1 magnitude (0, .5, 1, 1.5, 2, 3, 4, 6; midpoints to the even code), saturating at 6.
__device__ double round_e2m1(double x) {
    const double mags[8] = {0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0};
    const double mids[7] = {0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0};
    const double a = fabs(x);
    int code = 7;
    for (int c = 0; c < 7; ++c) {
        if (a < mids[c]) {
            code = c;
            break;
        }
        if (a == mids[c]) {
            code = (c % 2 == 0) ? c : c + 1;
            break;
        }
    }
    return signbit(x) ? -mags[code] : mags[code];
}

// std::clamp semantics (NaN passes through), unlike fmin/fmax.
__device__ __forceinline__ double clamp_to(double v, double lim) {
    return v < -lim ? -lim : (lim < v ? lim : v);
}

__global__ void quant_kernel(const float* x, int64_t rows, int64_t n, int64_t xs, bool e4m3, int64_t block, float* y,
                             int64_t ys) {
    const int lane = threadIdx.x & 31;
    const int64_t blocks_per_row = (n + block - 1) / block;
    const int64_t item = static_cast<int64_t>(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (item >= rows * blocks_per_row) return;
    const int64_t r = item / blocks_per_row, b0 = (item % blocks_per_row) * block;
    const int64_t b1 = b0 + block < n ? b0 + block : n;
    const float* xr = x + r * xs;
    float* yr = y + r * ys;
    float amax = 0.0f;  // |float| is exact, so the maximum equals the reference's double maximum
    for (int64_t i = b0 + lane; i < b1; i += 32) amax = fmaxf(amax, fabsf(xr[i]));
    amax = warp_max(amax);
    double s;
    if (e4m3) {
        s = ceil_pow2(fmaxf(amax, 1e-4f) * (1.0f / 448.0f));
    } else {
        s = ceil_pow2(fmaxf(amax, 6.0f * __uint_as_float(0x00800000u)) / 6.0f);  // 6 * 2^-126
    }
    for (int64_t i = b0 + lane; i < b1; i += 32) {
        const double v = static_cast<double>(xr[i]) / s;
        const double q = e4m3 ? round_e4m3(clamp_to(v, 448.0)) : round_e2m1(clamp_to(v, 6.0));
        yr[i] = static_cast<float>(q * s);
    }
}

}  // namespace

cudaError_t quant_roundtrip(cudaStream_t st, const float* x, int64_t rows, int64_t n, int64_t x_stride, bool e4m3,
                            int64_t block, float* y, int64_t y_stride) {
    if (rows < 1 || n < 1) return cudaSuccess;
    if (block < 1) return cudaErrorInvalidValue;
    const int64_t items = rows * ((n + block - 1) / block);
    constexpr int warps = k_block / 32;
    quant_kernel<<<blocks_for(items, warps), k_block, 0, st>>>(x, rows, n, x_stride, e4m3, block, y, y_stride);
    return cudaGetLastError();
}

}  // namespace mneme::kernels::cuda
