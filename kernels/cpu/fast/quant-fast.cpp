// V3.2's activation round trip through FP8 e4m3 (per block of 128 or of an indexer head: a
// power-of-two scale from the block's largest magnitude, values rounded to the e4m3 grid) in float32
// arithmetic. The reference kernel goes through double, frexp and ldexp per element; here every
// step is an exact float32 operation or an integer rounding of the bits, so the results are the
// reference's bit for bit (tested on ties, subnormal e4m3 values and signed zeros). Blocks holding
// NaN or infinity, or magnitudes near float32's limit, take the reference path.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

#include "fast-kernels.h"

namespace mneme::kernels::fast {
namespace {

// |v| <= 448 rounded to the nearest e4m3 value, ties to even.
inline float round_e4m3_magnitude(float a) {
    if (a < 0x1p-6f) {
        // Subnormal e4m3: multiples of 2^-9. Adding 2^14 leaves exactly that spacing (the float32
        // ulp at 2^14), so the addition itself rounds to nearest-even (IEEE arithmetic: the project
        // never builds with -ffast-math, which could fold the pair away).
        return (a + 16384.0f) - 16384.0f;
    }
    // Normal e4m3: 3 mantissa bits; round the 20 dropped bits to nearest, ties to even (a carry
    // into the exponent is the correct result).
    uint32_t b = std::bit_cast<uint32_t>(a);
    b = (b + 0x7ffffu + ((b >> 20) & 1u)) & ~0xfffffu;
    return std::bit_cast<float>(b);
}

// Returns false (writing nothing) when the block needs the reference path.
bool roundtrip_block_e4m3(const float* x, int64_t n, float* y) {
    float amax = 0.0f;
    bool finite = true;
    for (int64_t i = 0; i < n; ++i) {
        const float a = std::fabs(x[i]);
        finite = finite && a <= 0x1p100f;  // false for NaN and infinity too
        amax = a > amax ? a : amax;
    }
    if (!finite) return false;
    // s = the smallest power of two >= max(amax, 1e-4) / 448, as the reference computes it.
    const float t = std::max(amax, 1e-4f) * (1.0f / 448.0f);
    const uint32_t tb = std::bit_cast<uint32_t>(t);
    const int e = static_cast<int>((tb >> 23) & 0xffu) - 127 + ((tb & 0x7fffffu) ? 1 : 0);
    const float s = std::bit_cast<float>(static_cast<uint32_t>(e + 127) << 23);
    const float inv = std::bit_cast<float>(static_cast<uint32_t>(127 - e) << 23);
    for (int64_t i = 0; i < n; ++i) {
        const float v = x[i] * inv;  // exact, |v| <= 448 (values too small to be exact round to 0)
        const float r = round_e4m3_magnitude(std::min(std::fabs(v), 448.0f));
        y[i] = std::copysign(r, v) * s;  // exact: an e4m3 value times a power of two
    }
    return true;
}

}  // namespace

void quant_roundtrip_e4m3(const exec_ctx& ex, const float* x, int64_t rows, int64_t n, int64_t x_stride,
                          int64_t block, float* y, int64_t y_stride) {
    parallel(ex, static_cast<std::size_t>(rows), 8, [&](std::size_t r0, std::size_t r1) {
        for (std::size_t r = r0; r < r1; ++r) {
            const float* xr = x + static_cast<int64_t>(r) * x_stride;
            float* yr = y + static_cast<int64_t>(r) * y_stride;
            for (int64_t b = 0; b < n; b += block) {
                const int64_t len = std::min(block, n - b);
                if (!roundtrip_block_e4m3(xr + b, len, yr + b)) {
                    kernels::quant_roundtrip<float>(exec_ctx{}, xr + b, 1, len, len, quant_format::e4m3, len, yr + b, len);
                }
            }
        }
    });
}

}  // namespace mneme::kernels::fast
