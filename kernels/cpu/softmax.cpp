#include <cmath>
#include <limits>

#include "mneme_kernels/cpu-ops.h"

namespace mneme::kernels {

template <class T>
void softmax(const exec_ctx& ex, const T* x, int64_t rows, int64_t n, int64_t stride, double scale, T* y) {
    const T s = static_cast<T>(scale);
    parallel(ex, static_cast<std::size_t>(rows), 4, [&](std::size_t r0, std::size_t r1) {
        for (std::size_t r = r0; r < r1; ++r) {
            const T* xr = x + static_cast<int64_t>(r) * stride;
            T* yr = y + static_cast<int64_t>(r) * stride;
            T m = -std::numeric_limits<T>::infinity();
            for (int64_t i = 0; i < n; ++i) m = std::max(m, xr[i] * s);
            if (m == -std::numeric_limits<T>::infinity()) {
                for (int64_t i = 0; i < n; ++i) yr[i] = 0;  // every entry masked
                continue;
            }
            T sum = 0;
            for (int64_t i = 0; i < n; ++i) {
                yr[i] = std::exp(xr[i] * s - m);
                sum += yr[i];
            }
            for (int64_t i = 0; i < n; ++i) yr[i] /= sum;
        }
    });
}

template void softmax<float>(const exec_ctx&, const float*, int64_t, int64_t, int64_t, double, float*);
template void softmax<double>(const exec_ctx&, const double*, int64_t, int64_t, int64_t, double, double*);

}  // namespace mneme::kernels
