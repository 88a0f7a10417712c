#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "mneme_kernels/cpu-ops.h"

namespace mneme::kernels {

template <class T>
void topk(const exec_ctx& ex, const T* x, int64_t rows, int64_t n, int64_t stride, int64_t k, int32_t* out) {
    parallel(ex, static_cast<std::size_t>(rows), 1, [&](std::size_t r0, std::size_t r1) {
        std::vector<int32_t> idx(static_cast<std::size_t>(n));
        for (std::size_t r = r0; r < r1; ++r) {
            const T* xr = x + static_cast<int64_t>(r) * stride;
            std::iota(idx.begin(), idx.end(), 0);
            // Larger value first; NaN after every number; equal values by lower index.
            auto before = [xr](int32_t a, int32_t b) {
                const T va = xr[a], vb = xr[b];
                const bool na = std::isnan(va), nb = std::isnan(vb);
                if (na != nb) return nb;
                if (!na && va != vb) return va > vb;
                return a < b;
            };
            std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), before);
            std::copy(idx.begin(), idx.begin() + k, out + static_cast<int64_t>(r) * k);
        }
    });
}

template void topk<float>(const exec_ctx&, const float*, int64_t, int64_t, int64_t, int64_t, int32_t*);
template void topk<double>(const exec_ctx&, const double*, int64_t, int64_t, int64_t, int64_t, int32_t*);

}  // namespace mneme::kernels
