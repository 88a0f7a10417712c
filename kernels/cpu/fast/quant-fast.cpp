// V3.2's activation round trip through FP8 e4m3 (per block of 128 or of an indexer head: a
// power-of-two scale from the block's largest magnitude, values rounded to the e4m3 grid) in float32
// arithmetic. The reference kernel goes through double, frexp and ldexp per element; here every
// step is an exact float32 operation or an integer rounding of the bits, so the results are the
// reference's bit for bit (tested on ties, subnormal e4m3 values and signed zeros). Blocks holding
// NaN or infinity, or magnitudes near float32's limit, take the reference path.
#include <algorithm>
#include <cstdint>

#include "fast-kernels.h"

namespace mneme::kernels::fast {

void quant_roundtrip_e4m3(const exec_ctx& ex, const float* x, int64_t rows, int64_t n, int64_t x_stride,
                          int64_t block, float* y, int64_t y_stride) {
    const kernel_table& kt = active_kernels();
    parallel(ex, static_cast<std::size_t>(rows), 8, [&](std::size_t r0, std::size_t r1) {
        for (std::size_t r = r0; r < r1; ++r) {
            const float* xr = x + static_cast<int64_t>(r) * x_stride;
            float* yr = y + static_cast<int64_t>(r) * y_stride;
            for (int64_t b = 0; b < n; b += block) {
                const int64_t len = std::min(block, n - b);
                if (!kt.quant_block_e4m3(xr + b, len, yr + b)) {
                    kernels::quant_roundtrip<float>(exec_ctx{}, xr + b, 1, len, len, quant_format::e4m3, len, yr + b, len);
                }
            }
        }
    });
}

}  // namespace mneme::kernels::fast
