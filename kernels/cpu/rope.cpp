#include "mneme_kernels/cpu-ops.h"

namespace mneme::kernels {

template <class T>
void rope(const exec_ctx& ex, const T* x, int64_t tokens, int64_t heads, int64_t x_stride, const T* cos_table,
          const T* sin_table, rope_layout layout, int64_t offset, int64_t n_rot, bool inverse, T* y,
          int64_t y_stride) {
    const int64_t half = n_rot / 2;
    parallel(ex, static_cast<std::size_t>(tokens * heads), 16, [&](std::size_t i0, std::size_t i1) {
        for (std::size_t i = i0; i < i1; ++i) {
            const int64_t row = static_cast<int64_t>(i), t = row / heads;
            const T* xr = x + row * x_stride + offset;
            T* yr = y + row * y_stride + offset;
            const T* c = cos_table + t * half;
            const T* s = sin_table + t * half;
            for (int64_t j = 0; j < half; ++j) {
                const int64_t a = layout == rope_layout::interleaved ? 2 * j : j;
                const int64_t b = layout == rope_layout::interleaved ? 2 * j + 1 : j + half;
                const T sn = inverse ? -s[j] : s[j];
                const T xa = xr[a], xb = xr[b];
                yr[a] = xa * c[j] - xb * sn;
                yr[b] = xa * sn + xb * c[j];
            }
        }
    });
}

template void rope<float>(const exec_ctx&, const float*, int64_t, int64_t, int64_t, const float*, const float*,
                          rope_layout, int64_t, int64_t, bool, float*, int64_t);
template void rope<double>(const exec_ctx&, const double*, int64_t, int64_t, int64_t, const double*, const double*,
                           rope_layout, int64_t, int64_t, bool, double*, int64_t);

}  // namespace mneme::kernels
