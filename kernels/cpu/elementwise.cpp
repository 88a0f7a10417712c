#include <algorithm>
#include <cmath>

#include "mneme_kernels/cpu-ops.h"

namespace mneme::kernels {

template <class T>
void swiglu(const exec_ctx& ex, const T* gate, const T* up, int64_t count, double limit, T* y) {
    const T lim = static_cast<T>(limit);
    parallel(ex, static_cast<std::size_t>(count), 4096, [&](std::size_t i0, std::size_t i1) {
        for (std::size_t i = i0; i < i1; ++i) {
            T g = gate[i], u = up[i];
            if (limit > 0) {
                g = std::min(g, lim);
                u = std::clamp(u, -lim, lim);
            }
            y[i] = g / (T(1) + std::exp(-g)) * u;
        }
    });
}

template <class T>
void swiglu_weighted(const exec_ctx& ex, const T* gate, const T* up, int64_t rows, int64_t n, double limit,
                     const T* row_weight, T* y) {
    const T lim = static_cast<T>(limit);
    parallel(ex, static_cast<std::size_t>(rows), 1, [&](std::size_t r0, std::size_t r1) {
        for (std::size_t r = r0; r < r1; ++r) {
            for (int64_t i = static_cast<int64_t>(r) * n; i < static_cast<int64_t>(r + 1) * n; ++i) {
                T g = gate[i], u = up[i];
                if (limit > 0) {
                    g = std::min(g, lim);
                    u = std::clamp(u, -lim, lim);
                }
                y[i] = g / (T(1) + std::exp(-g)) * u * row_weight[r];
            }
        }
    });
}

template <class T>
void add(const exec_ctx& ex, const T* a, const T* b, int64_t rows, int64_t n, int64_t b_rows, T* y) {
    parallel(ex, static_cast<std::size_t>(rows), 1, [&](std::size_t r0, std::size_t r1) {
        for (std::size_t r = r0; r < r1; ++r) {
            const T* br = b + (b_rows == 1 ? 0 : static_cast<int64_t>(r) * n);
            for (int64_t i = 0; i < n; ++i) y[r * n + i] = a[r * n + i] + br[i];
        }
    });
}

template <class T>
void mul(const exec_ctx& ex, const T* a, const T* b, int64_t rows, int64_t n, int64_t b_rows, T* y) {
    parallel(ex, static_cast<std::size_t>(rows), 1, [&](std::size_t r0, std::size_t r1) {
        for (std::size_t r = r0; r < r1; ++r) {
            const T* br = b + (b_rows == 1 ? 0 : static_cast<int64_t>(r) * n);
            for (int64_t i = 0; i < n; ++i) y[r * n + i] = a[r * n + i] * br[i];
        }
    });
}

template <class T>
void scale(const exec_ctx& ex, const T* x, int64_t count, double s, double bias, T* y) {
    const T st = static_cast<T>(s), bt = static_cast<T>(bias);
    parallel(ex, static_cast<std::size_t>(count), 4096, [&](std::size_t i0, std::size_t i1) {
        for (std::size_t i = i0; i < i1; ++i) y[i] = x[i] * st + bt;
    });
}

template <class T>
void add_rows_scaled(const exec_ctx& ex, const T* x, int64_t rows, int64_t n, const int32_t* idx, const T* w, T* y,
                     int64_t) {
    // Columns in parallel, rows in order: the sum order per output element is fixed.
    parallel(ex, static_cast<std::size_t>(n), 256, [&](std::size_t c0, std::size_t c1) {
        for (int64_t r = 0; r < rows; ++r) {
            const T* xr = x + r * n;
            T* yr = y + static_cast<int64_t>(idx[r]) * n;
            for (std::size_t c = c0; c < c1; ++c) yr[c] += w[r] * xr[c];
        }
    });
}

#define MNEME_INSTANTIATE(T)                                                                            \
    template void swiglu<T>(const exec_ctx&, const T*, const T*, int64_t, double, T*);                  \
    template void swiglu_weighted<T>(const exec_ctx&, const T*, const T*, int64_t, int64_t, double, const T*, T*); \
    template void add<T>(const exec_ctx&, const T*, const T*, int64_t, int64_t, int64_t, T*);           \
    template void mul<T>(const exec_ctx&, const T*, const T*, int64_t, int64_t, int64_t, T*);           \
    template void scale<T>(const exec_ctx&, const T*, int64_t, double, double, T*);                     \
    template void add_rows_scaled<T>(const exec_ctx&, const T*, int64_t, int64_t, const int32_t*, const T*, T*, int64_t);
MNEME_INSTANTIATE(float)
MNEME_INSTANTIATE(double)
#undef MNEME_INSTANTIATE

}  // namespace mneme::kernels
