#include <cmath>

#include "mneme_kernels/cpu-ops.h"

namespace mneme::kernels {

template <class T>
void rms_norm(const exec_ctx& ex, const T* x, int64_t rows, int64_t d, int64_t x_stride, const T* weight, double eps,
              T* y, int64_t y_stride) {
    parallel(ex, static_cast<std::size_t>(rows), 4, [&](std::size_t r0, std::size_t r1) {
        for (std::size_t r = r0; r < r1; ++r) {
            const T* xr = x + static_cast<int64_t>(r) * x_stride;
            T* yr = y + static_cast<int64_t>(r) * y_stride;
            T sum = 0;
            for (int64_t i = 0; i < d; ++i) sum += xr[i] * xr[i];
            const T inv = T(1) / std::sqrt(sum / static_cast<T>(d) + static_cast<T>(eps));
            for (int64_t i = 0; i < d; ++i) yr[i] = weight ? xr[i] * inv * weight[i] : xr[i] * inv;
        }
    });
}

template void rms_norm<float>(const exec_ctx&, const float*, int64_t, int64_t, int64_t, const float*, double, float*,
                              int64_t);
template void rms_norm<double>(const exec_ctx&, const double*, int64_t, int64_t, int64_t, const double*, double,
                               double*, int64_t);

}  // namespace mneme::kernels

namespace mneme::kernels {

template <class T>
void layer_norm(const exec_ctx& ex, const T* x, int64_t rows, int64_t d, int64_t x_stride, const T* w, const T* b,
                double eps, T* y, int64_t y_stride) {
    parallel(ex, static_cast<std::size_t>(rows), 4, [&](std::size_t r0, std::size_t r1) {
        for (std::size_t r = r0; r < r1; ++r) {
            const T* xr = x + static_cast<int64_t>(r) * x_stride;
            T* yr = y + static_cast<int64_t>(r) * y_stride;
            T mean = 0;
            for (int64_t i = 0; i < d; ++i) mean += xr[i];
            mean /= static_cast<T>(d);
            T var = 0;
            for (int64_t i = 0; i < d; ++i) var += (xr[i] - mean) * (xr[i] - mean);
            var /= static_cast<T>(d);
            const T inv = T(1) / std::sqrt(var + static_cast<T>(eps));
            for (int64_t i = 0; i < d; ++i) {
                T v = (xr[i] - mean) * inv;
                if (w) v *= w[i];
                if (b) v += b[i];
                yr[i] = v;
            }
        }
    });
}

template void layer_norm<float>(const exec_ctx&, const float*, int64_t, int64_t, int64_t, const float*, const float*,
                                double, float*, int64_t);
template void layer_norm<double>(const exec_ctx&, const double*, int64_t, int64_t, int64_t, const double*,
                                 const double*, double, double*, int64_t);

}  // namespace mneme::kernels
