#include <algorithm>
#include <cstring>
#include <vector>

#include "mneme_kernels/cpu-ops.h"
#include "mneme_kernels/number-formats.h"

namespace mneme::kernels {
namespace {

float scale_at(const weight_view& w, int64_t n, int64_t k) {
    const int64_t idx = (n / w.block_n) * w.scale_row_elems + (k / w.block_k);
    if (w.scale_fmt == scale_format::f32) {
        float s;
        std::memcpy(&s, w.scale + idx * 4, 4);
        return s;
    }
    return e8m0_to_f32(w.scale[idx]);
}

}  // namespace

bool free_of_e4m3_nan_codes(const uint8_t* data, uint64_t bytes) {
    // Eight bytes at a time: with each byte's top bit cleared, adding 1 to every byte carries into
    // the top bit exactly where the low 7 bits were all set, and never into the next byte.
    constexpr uint64_t low7 = 0x7f7f7f7f7f7f7f7full, ones = 0x0101010101010101ull, tops = 0x8080808080808080ull;
    uint64_t i = 0, hits = 0;
    for (; i + 8 <= bytes; i += 8) {
        uint64_t v;
        std::memcpy(&v, data + i, 8);
        hits |= ((v & low7) + ones) & tops;
    }
    for (; i < bytes; ++i) hits |= (data[i] & 0x7fu) == 0x7fu;
    return hits == 0;
}

template <class T>
void decode_weight_row(const weight_view& w, int64_t n, T* out) {
    const uint8_t* row = w.data + n * w.row_bytes;
    switch (w.format) {
        case weight_format::f32:
            for (int64_t k = 0; k < w.k; ++k) {
                float v;
                std::memcpy(&v, row + 4 * k, 4);
                out[k] = static_cast<T>(v);
            }
            break;
        case weight_format::f64:
            for (int64_t k = 0; k < w.k; ++k) {
                double v;
                std::memcpy(&v, row + 8 * k, 8);
                out[k] = static_cast<T>(v);
            }
            break;
        case weight_format::bf16:
            for (int64_t k = 0; k < w.k; ++k) {
                uint16_t h;
                std::memcpy(&h, row + 2 * k, 2);
                out[k] = static_cast<T>(bf16_to_f32(h));
            }
            break;
        case weight_format::f16:
            for (int64_t k = 0; k < w.k; ++k) {
                uint16_t h;
                std::memcpy(&h, row + 2 * k, 2);
                out[k] = static_cast<T>(f16_to_f32(h));
            }
            break;
        case weight_format::e4m3: {
            const auto& lut = e4m3_table();
            for (int64_t k = 0; k < w.k; ++k) out[k] = static_cast<T>(lut[row[k]]);
            break;
        }
        case weight_format::e2m1:
            for (int64_t k = 0; k < w.k; ++k) out[k] = static_cast<T>(fp4_at(row, k));
            break;
    }
    if (w.scale_fmt != scale_format::none) {
        // The dequantised value is the float32 product of element and scale (exact for e8m0).
        for (int64_t k0 = 0; k0 < w.k; k0 += w.block_k) {
            const float s = scale_at(w, n, k0);
            const int64_t k1 = std::min(w.k, k0 + w.block_k);
            for (int64_t k = k0; k < k1; ++k) out[k] = static_cast<T>(static_cast<float>(out[k]) * s);
        }
    }
}

template <class T>
void matmul(const exec_ctx& ex, const T* x, int64_t rows, int64_t x_stride, const weight_view& w, T* y,
            int64_t y_stride, double alpha) {
    const T a = static_cast<T>(alpha);
    parallel(ex, static_cast<std::size_t>(w.n), 8, [&](std::size_t n0, std::size_t n1) {
        std::vector<T> wrow(static_cast<std::size_t>(w.k));
        for (std::size_t n = n0; n < n1; ++n) {
            decode_weight_row(w, static_cast<int64_t>(n), wrow.data());
            for (int64_t r = 0; r < rows; ++r) {
                const T* xr = x + r * x_stride;
                T acc = 0;
                for (int64_t k = 0; k < w.k; ++k) acc += xr[k] * wrow[k];
                y[r * y_stride + static_cast<int64_t>(n)] = alpha == 1.0 ? acc : acc * a;
            }
        }
    });
}

template void decode_weight_row<float>(const weight_view&, int64_t, float*);
template void decode_weight_row<double>(const weight_view&, int64_t, double*);
template void matmul<float>(const exec_ctx&, const float*, int64_t, int64_t, const weight_view&, float*, int64_t,
                            double);
template void matmul<double>(const exec_ctx&, const double*, int64_t, int64_t, const weight_view&, double*, int64_t,
                             double);

}  // namespace mneme::kernels
