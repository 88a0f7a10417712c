#include <cmath>

#include "mneme_kernels/cpu-ops.h"

namespace mneme::kernels {

template <class T>
void hadamard(const exec_ctx& ex, const T* x, int64_t rows, int64_t n, int64_t x_stride, T* y, int64_t y_stride) {
    const T norm = T(1) / std::sqrt(static_cast<T>(n));
    parallel(ex, static_cast<std::size_t>(rows), 8, [&](std::size_t r0, std::size_t r1) {
        for (std::size_t r = r0; r < r1; ++r) {
            const T* xr = x + static_cast<int64_t>(r) * x_stride;
            T* yr = y + static_cast<int64_t>(r) * y_stride;
            if (yr != xr) {
                for (int64_t i = 0; i < n; ++i) yr[i] = xr[i];
            }
            // Butterflies over doubling spans reproduce the Sylvester construction H_2k = [[H, H], [H, -H]].
            for (int64_t span = 1; span < n; span *= 2) {
                for (int64_t i = 0; i < n; i += 2 * span) {
                    for (int64_t j = i; j < i + span; ++j) {
                        const T a = yr[j], b = yr[j + span];
                        yr[j] = a + b;
                        yr[j + span] = a - b;
                    }
                }
            }
            for (int64_t i = 0; i < n; ++i) yr[i] *= norm;
        }
    });
}

template void hadamard<float>(const exec_ctx&, const float*, int64_t, int64_t, int64_t, float*, int64_t);
template void hadamard<double>(const exec_ctx&, const double*, int64_t, int64_t, int64_t, double*, int64_t);

}  // namespace mneme::kernels
