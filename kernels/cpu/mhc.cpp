// Manifold-constrained hyper-connections (DeepSeek-V4 mHC, SPEC.md §4.3): the per-token
// coefficients of a sub-layer site and the mixing of residual streams.
#include <algorithm>
#include <cmath>
#include <vector>

#include "mneme_kernels/cpu-ops.h"

namespace mneme::kernels {
namespace {

template <class T>
T sigmoid(T x) {
    return T(1) / (T(1) + std::exp(-x));
}

// Sinkhorn-Knopp on an n x n row-major matrix of logits, in the shipped order: row softmax + eps,
// a column normalisation, then (iters - 1) row/column pairs; each step divides by (sum + eps). It
// ends on a column normalisation, so columns sum to 1 - O(eps) and rows only approximately.
template <class T>
void sinkhorn(T* c, int64_t n, int64_t iters, T eps) {
    for (int64_t i = 0; i < n; ++i) {
        T* row = c + i * n;
        const T m = *std::max_element(row, row + n);
        T sum = 0;
        for (int64_t j = 0; j < n; ++j) sum += (row[j] = std::exp(row[j] - m));
        for (int64_t j = 0; j < n; ++j) row[j] = row[j] / sum + eps;
    }
    auto normalise_columns = [&] {
        for (int64_t j = 0; j < n; ++j) {
            T sum = 0;
            for (int64_t i = 0; i < n; ++i) sum += c[i * n + j];
            for (int64_t i = 0; i < n; ++i) c[i * n + j] /= sum + eps;
        }
    };
    normalise_columns();
    for (int64_t it = 1; it < iters; ++it) {
        for (int64_t i = 0; i < n; ++i) {
            T* row = c + i * n;
            T sum = 0;
            for (int64_t j = 0; j < n; ++j) sum += row[j];
            for (int64_t j = 0; j < n; ++j) row[j] /= sum + eps;
        }
        normalise_columns();
    }
}

}  // namespace

template <class T>
void hc_coeffs(const exec_ctx& ex, const T* mixes, int64_t tokens, int64_t n, bool head, const T* scale, const T* base,
               int64_t sinkhorn_iters, double eps, double post_mult, T* out) {
    const int64_t m = head ? n : (2 + n) * n;
    const T e = static_cast<T>(eps);
    parallel(ex, static_cast<std::size_t>(tokens), 16, [&](std::size_t t0, std::size_t t1) {
        for (std::size_t t = t0; t < t1; ++t) {
            const T* mx = mixes + static_cast<int64_t>(t) * m;
            T* o = out + static_cast<int64_t>(t) * m;
            for (int64_t i = 0; i < n; ++i) o[i] = sigmoid(mx[i] * scale[0] + base[i]) + e;
            if (head) continue;
            for (int64_t j = n; j < 2 * n; ++j) o[j] = static_cast<T>(post_mult) * sigmoid(mx[j] * scale[1] + base[j]);
            for (int64_t k = 2 * n; k < m; ++k) o[k] = mx[k] * scale[2] + base[k];
            sinkhorn(o + 2 * n, n, sinkhorn_iters, e);
        }
    });
}

template <class T>
void stream_mix(const exec_ctx& ex, const T* x, int64_t d, int64_t n_in, int64_t tokens, const T* c, int64_t m,
                int64_t n_out, int64_t w_off, const T* z, int64_t b_off, T* y) {
    parallel(ex, static_cast<std::size_t>(tokens * n_out), 1, [&](std::size_t r0, std::size_t r1) {
        for (std::size_t r = r0; r < r1; ++r) {
            const int64_t t = static_cast<int64_t>(r) / n_out, j = static_cast<int64_t>(r) % n_out;
            const T* ct = c + t * m;
            const T* xt = x + t * n_in * d;
            T* yr = y + (t * n_out + j) * d;
            // Each element sums its n_in products from zero in stream order, then adds the z term;
            // the loop over elements is innermost so that it vectorises (a decode step mixes 4 x
            // 1024-wide streams some 25 times).
            std::fill(yr, yr + d, T{0});
            for (int64_t i = 0; i < n_in; ++i) {
                const T ci = ct[w_off + i * n_out + j];
                const T* xi = xt + i * d;
                for (int64_t q = 0; q < d; ++q) yr[q] += ci * xi[q];
            }
            if (z) {
                const T bj = ct[b_off + j];
                const T* zt = z + t * d;
                for (int64_t q = 0; q < d; ++q) yr[q] = bj * zt[q] + yr[q];
            }
        }
    });
}

#define MNEME_INSTANTIATE(T)                                                                                           \
    template void hc_coeffs<T>(const exec_ctx&, const T*, int64_t, int64_t, bool, const T*, const T*, int64_t, double, \
                               double, T*);                                                                            \
    template void stream_mix<T>(const exec_ctx&, const T*, int64_t, int64_t, int64_t, const T*, int64_t, int64_t,      \
                                int64_t, const T*, int64_t, T*);
MNEME_INSTANTIATE(float)
MNEME_INSTANTIATE(double)
#undef MNEME_INSTANTIATE

}  // namespace mneme::kernels
