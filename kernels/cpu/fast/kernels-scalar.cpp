// Portable building blocks: the fallback on CPUs without AVX2 and the baseline every vector
// variant is tested against besides the reference kernels.
#include <algorithm>
#include <cstring>

#include "fast-kernels.h"
#include "mneme_kernels/number-formats.h"

namespace mneme::kernels::fast {
namespace {

float element(weight_format fmt, const uint8_t* row, int64_t k) {
    switch (fmt) {
        case weight_format::f32: {
            float v;
            std::memcpy(&v, row + 4 * k, 4);
            return v;
        }
        case weight_format::f64: {
            double v;
            std::memcpy(&v, row + 8 * k, 8);
            return static_cast<float>(v);
        }
        case weight_format::bf16: {
            uint16_t h;
            std::memcpy(&h, row + 2 * k, 2);
            return bf16_to_f32(h);
        }
        case weight_format::f16: {
            uint16_t h;
            std::memcpy(&h, row + 2 * k, 2);
            return f16_to_f32(h);
        }
        case weight_format::e4m3: return e4m3_table()[row[k]];
        case weight_format::e2m1: return fp4_at(row, k);
    }
    return 0.0f;
}

void decode(weight_format fmt, const uint8_t* row, int64_t k0, int64_t len, float scale, float* out) {
    for (int64_t i = 0; i < len; ++i) out[i] = element(fmt, row, k0 + i) * scale;
}

void gemm_nt(const float* x, int64_t x_stride, int64_t rows, const float* const* w, int64_t n, int64_t len, float* y,
             int64_t y_stride, bool accumulate) {
    for (int64_t j = 0; j < n; ++j) {
        const float* wj = w[j];
        for (int64_t r = 0; r < rows; ++r) {
            const float* xr = x + r * x_stride;
            float acc = 0.0f;
            for (int64_t k = 0; k < len; ++k) acc += xr[k] * wj[k];
            float& out = y[r * y_stride + j];
            out = accumulate ? out + acc : acc;
        }
    }
}

void axpy_rows(const float* c, const float* const* v, int count, int64_t len, float* y) {
    for (int m = 0; m < count; ++m) {
        for (int64_t i = 0; i < len; ++i) y[i] += c[m] * v[m][i];
    }
}

void relu_head_sum(const float* dots, int64_t dot_stride, const float* w, int64_t heads, int64_t n, float* out) {
    for (int64_t j = 0; j < n; ++j) out[j] = 0.0f;
    for (int64_t h = 0; h < heads; ++h) {
        const float* d = dots + h * dot_stride;
        for (int64_t j = 0; j < n; ++j) out[j] += w[h] * std::max(d[j], 0.0f);
    }
}

int64_t order_keys(const float* x, int64_t n, uint32_t* keys) {
    int64_t live = 0;
    for (int64_t i = 0; i < n; ++i) {
        keys[i] = order_key(x[i]);
        if (keys[i] != k_neg_inf_order_key) live = i + 1;
    }
    return live;
}

}  // namespace

const kernel_table& scalar_kernels() {
    static const kernel_table table{decode,        gemm_nt, axpy_rows, nullptr, nullptr, nullptr, nullptr,
                                    relu_head_sum, nullptr, 0,         nullptr, nullptr, nullptr, order_keys};
    return table;
}

}  // namespace mneme::kernels::fast
