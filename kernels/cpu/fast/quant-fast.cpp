// V3.2's activation round trip through FP8 e4m3 (per block of 128 or of an indexer head: a
// power-of-two scale from the block's largest magnitude, values rounded to the e4m3 grid) in float32
// arithmetic. The reference kernel goes through double, frexp and ldexp per element; here every
// step is an exact float32 operation or an integer rounding of the bits, so the results are the
// reference's bit for bit (tested on ties, subnormal e4m3 values and signed zeros). Blocks holding
// NaN or infinity, or magnitudes near float32's limit, take the reference path. The same for V4's
// FP4 (e2m1) round trip, per block of 32 (quant_roundtrip_e2m1).
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

#include "fast-kernels.h"

namespace mneme::kernels::fast {

namespace {

// Rows in parallel, each block through `block_fn` (kernel_table::quant_block_e4m3, or
// quant_block_e2m1 below), or through the reference where that returns false.
void roundtrip_rows(const exec_ctx& ex, const float* x, int64_t rows, int64_t n, int64_t x_stride, int64_t block,
                    float* y, int64_t y_stride, quant_format fmt, bool (*block_fn)(const float*, int64_t, float*)) {
    parallel(ex, static_cast<std::size_t>(rows), 8, [&](std::size_t r0, std::size_t r1) {
        for (std::size_t r = r0; r < r1; ++r) {
            const float* xr = x + static_cast<int64_t>(r) * x_stride;
            float* yr = y + static_cast<int64_t>(r) * y_stride;
            for (int64_t b = 0; b < n; b += block) {
                const int64_t len = std::min(block, n - b);
                if (!block_fn(xr + b, len, yr + b)) {
                    kernels::quant_roundtrip<float>(exec_ctx{}, xr + b, 1, len, len, fmt, len, yr + b, len);
                }
            }
        }
    });
}

// One block of the FP4 (e2m1) round trip in float32: the reference's scale (the smallest power of
// two at or above the block's largest magnitude / 6, from the float32 bits), each value scaled onto
// the grid 0, .5, 1, 1.5, 2, 3, 4, 6 (exact: a power-of-two scaling, and a value that would leave
// the normal range is below .25 and rounds to a signed zero either way), rounded to nearest with
// ties to the even code (.25 -> 0, .75 -> 1, 1.25 -> 1, 1.75 -> 2, 2.5 -> 2, 3.5 -> 4, 5 -> 4) as a
// chain of selects, clamped at 6, and scaled back (exact). Returns false, writing nothing, for a
// block holding NaN, infinity or magnitudes above 2^100 (the caller then takes the reference).
bool quant_block_e2m1(const float* x, int64_t n, float* y) {
    float amax = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
        const float a = std::fabs(x[i]);
        if (!(a <= 0x1p100f)) return false;
        amax = a > amax ? a : amax;
    }
    const float a = std::max(amax, 6.0f * 0x1p-126f) / 6.0f;
    const uint32_t bits = std::bit_cast<uint32_t>(a);
    const uint32_t exp = ((bits >> 23) & 0xffu) + ((bits & 0x7fffffu) != 0 ? 1u : 0u);  // biased, <= 227
    const float s = std::bit_cast<float>(exp << 23), inv = std::bit_cast<float>((254u - exp) << 23);
    for (int64_t i = 0; i < n; ++i) {
        const float v = x[i] * inv, m = std::fabs(v);
        float q = 6.0f;
        q = m <= 5.0f ? 4.0f : q;
        q = m < 3.5f ? 3.0f : q;
        q = m <= 2.5f ? 2.0f : q;
        q = m < 1.75f ? 1.5f : q;
        q = m <= 1.25f ? 1.0f : q;
        q = m < 0.75f ? 0.5f : q;
        q = m <= 0.25f ? 0.0f : q;
        y[i] = std::copysign(q, v) * s;
    }
    return true;
}

}  // namespace

void quant_roundtrip_e4m3(const exec_ctx& ex, const float* x, int64_t rows, int64_t n, int64_t x_stride, int64_t block,
                          float* y, int64_t y_stride) {
    roundtrip_rows(ex, x, rows, n, x_stride, block, y, y_stride, quant_format::e4m3, active_kernels().quant_block_e4m3);
}

void quant_roundtrip_e2m1(const exec_ctx& ex, const float* x, int64_t rows, int64_t n, int64_t x_stride, int64_t block,
                          float* y, int64_t y_stride) {
    roundtrip_rows(ex, x, rows, n, x_stride, block, y, y_stride, quant_format::e2m1, quant_block_e2m1);
}

}  // namespace mneme::kernels::fast
