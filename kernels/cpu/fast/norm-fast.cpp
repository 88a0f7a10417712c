// RMSNorm in float32 with the instruction set's sum of squares (kernel_table::sum_squares); the
// rest is the reference's arithmetic, element for element.
#include <cmath>

#include "fast-kernels.h"

namespace mneme::kernels::fast {

void rms_norm(const exec_ctx& ex, const float* x, int64_t rows, int64_t d, int64_t x_stride, const float* weight,
              double eps, float* y, int64_t y_stride) {
    const kernel_table& kt = active_kernels();
    if (!kt.sum_squares) return kernels::rms_norm<float>(ex, x, rows, d, x_stride, weight, eps, y, y_stride);
    parallel(ex, static_cast<std::size_t>(rows), 4, [&](std::size_t r0, std::size_t r1) {
        for (std::size_t r = r0; r < r1; ++r) {
            const float* xr = x + static_cast<int64_t>(r) * x_stride;
            float* yr = y + static_cast<int64_t>(r) * y_stride;
            const float inv = 1.0f / std::sqrt(kt.sum_squares(xr, d) / static_cast<float>(d) + static_cast<float>(eps));
            if (weight) {
                for (int64_t i = 0; i < d; ++i) yr[i] = xr[i] * inv * weight[i];
            } else {
                for (int64_t i = 0; i < d; ++i) yr[i] = xr[i] * inv;
            }
        }
    });
}

}  // namespace mneme::kernels::fast
