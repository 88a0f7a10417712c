#include "mneme_kernels/cpu-ops.h"

namespace mneme::kernels {

template <class T>
void rope(const exec_ctx& ex, const T* x, int64_t tokens, int64_t heads, int64_t d, const T* cos_table,
          const T* sin_table, rope_layout layout, int64_t offset, int64_t n_rot, bool inverse, T* y) {
    const int64_t half = n_rot / 2;
    parallel(ex, static_cast<std::size_t>(tokens * heads), 16, [&](std::size_t i0, std::size_t i1) {
        for (std::size_t i = i0; i < i1; ++i) {
            const int64_t t = static_cast<int64_t>(i) / heads;
            const T* xr = x + static_cast<int64_t>(i) * d;
            T* yr = y + static_cast<int64_t>(i) * d;
            if (yr != xr) {
                for (int64_t j = 0; j < d; ++j) yr[j] = xr[j];
            }
            const T* c = cos_table + t * half;
            const T* s = sin_table + t * half;
            for (int64_t j = 0; j < half; ++j) {
                const int64_t a = offset + (layout == rope_layout::interleaved ? 2 * j : j);
                const int64_t b = offset + (layout == rope_layout::interleaved ? 2 * j + 1 : j + half);
                const T sn = inverse ? -s[j] : s[j];
                const T xa = xr[a], xb = xr[b];
                yr[a] = xa * c[j] - xb * sn;
                yr[b] = xa * sn + xb * c[j];
            }
        }
    });
}

template void rope<float>(const exec_ctx&, const float*, int64_t, int64_t, int64_t, const float*, const float*,
                          rope_layout, int64_t, int64_t, bool, float*);
template void rope<double>(const exec_ctx&, const double*, int64_t, int64_t, int64_t, const double*, const double*,
                           rope_layout, int64_t, int64_t, bool, double*);

}  // namespace mneme::kernels
