#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

#include "mneme_kernels/cpu-ops.h"
#include "mneme_kernels/number-formats.h"

namespace mneme::kernels {
namespace {

// Smallest power of two >= s, from the float32 bits (exponent, +1 when the mantissa is not zero),
// exactly as the reference's ue8m0 rounding does. s is positive and normal here.
double ceil_pow2(float s) {
    const uint32_t bits = std::bit_cast<uint32_t>(s);
    int exp = static_cast<int>((bits >> 23) & 0xff) - 127;
    if (bits & 0x7fffff) exp += 1;
    return std::ldexp(1.0, exp);
}

template <class T>
void roundtrip_block(const T* x, int64_t n, quant_format fmt, T* y) {
    double amax = 0;
    for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(static_cast<double>(x[i])));
    if (fmt == quant_format::e4m3) {
        const float a = std::max(static_cast<float>(amax), 1e-4f);
        const double s = ceil_pow2(a * (1.0f / 448.0f));
        for (int64_t i = 0; i < n; ++i) {
            const double v = std::clamp(static_cast<double>(x[i]) / s, -448.0, 448.0);
            y[i] = static_cast<T>(static_cast<double>(e4m3_to_f32(f64_to_e4m3(v))) * s);
        }
    } else {
        const float a = std::max(static_cast<float>(amax), 6.0f * std::ldexp(1.0f, -126));
        const double s = ceil_pow2(a / 6.0f);
        for (int64_t i = 0; i < n; ++i) {
            const double v = std::clamp(static_cast<double>(x[i]) / s, -6.0, 6.0);
            y[i] = static_cast<T>(static_cast<double>(k_e2m1_values[f64_to_e2m1(v)]) * s);
        }
    }
}

}  // namespace

template <class T>
void quant_roundtrip(const exec_ctx& ex, const T* x, int64_t rows, int64_t n, int64_t x_stride, quant_format fmt,
                     int64_t block, T* y, int64_t y_stride) {
    parallel(ex, static_cast<std::size_t>(rows), 8, [&](std::size_t r0, std::size_t r1) {
        for (std::size_t r = r0; r < r1; ++r) {
            const T* xr = x + static_cast<int64_t>(r) * x_stride;
            T* yr = y + static_cast<int64_t>(r) * y_stride;
            for (int64_t b = 0; b < n; b += block) roundtrip_block(xr + b, std::min(block, n - b), fmt, yr + b);
        }
    });
}

template void quant_roundtrip<float>(const exec_ctx&, const float*, int64_t, int64_t, int64_t, quant_format, int64_t,
                                     float*, int64_t);
template void quant_roundtrip<double>(const exec_ctx&, const double*, int64_t, int64_t, int64_t, quant_format, int64_t,
                                      double*, int64_t);

}  // namespace mneme::kernels
