// Portable building blocks: the fallback on CPUs without AVX2 and the baseline every vector
// variant is tested against besides the reference kernels.
#include <algorithm>
#include <bit>
#include <cmath>
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

// |v| <= 448 rounded to the nearest e4m3 value, ties to even.
inline float round_e4m3_magnitude(float a) {
    if (a < 0x1p-6f) {
        // Subnormal e4m3: multiples of 2^-9. Adding 2^14 leaves exactly that spacing (the float32
        // ulp at 2^14), so the addition itself rounds to nearest-even (IEEE arithmetic: the project
        // never builds with -ffast-math, which could fold the pair away).
        return (a + 16384.0f) - 16384.0f;
    }
    // Normal e4m3: 3 mantissa bits; round the 20 dropped bits to nearest, ties to even (a carry
    // into the exponent is the correct result).
    uint32_t b = std::bit_cast<uint32_t>(a);
    b = (b + 0x7ffffu + ((b >> 20) & 1u)) & ~0xfffffu;
    return std::bit_cast<float>(b);
}

bool quant_block_e4m3(const float* x, int64_t n, float* y) {
    float amax = 0.0f;
    bool finite = true;
    for (int64_t i = 0; i < n; ++i) {
        const float a = std::fabs(x[i]);
        finite = finite && a <= 0x1p100f;  // false for NaN and infinity too
        amax = a > amax ? a : amax;
    }
    if (!finite) return false;
    // s = the smallest power of two >= max(amax, 1e-4) / 448, as the reference computes it.
    const float t = std::max(amax, 1e-4f) * (1.0f / 448.0f);
    const uint32_t tb = std::bit_cast<uint32_t>(t);
    const int e = static_cast<int>((tb >> 23) & 0xffu) - 127 + ((tb & 0x7fffffu) ? 1 : 0);
    const float s = std::bit_cast<float>(static_cast<uint32_t>(e + 127) << 23);
    const float inv = std::bit_cast<float>(static_cast<uint32_t>(127 - e) << 23);
    for (int64_t i = 0; i < n; ++i) {
        const float v = x[i] * inv;  // exact, |v| <= 448 (values too small to be exact round to 0)
        const float r = round_e4m3_magnitude(std::min(std::fabs(v), 448.0f));
        y[i] = std::copysign(r, v) * s;  // exact: an e4m3 value times a power of two
    }
    return true;
}

void add_scaled(const float* x, float w, int64_t n, float* y) {
    for (int64_t i = 0; i < n; ++i) y[i] += w * x[i];
}

int64_t order_keys(const float* x, int64_t n, uint32_t* keys) {
    int64_t live = 0;
    for (int64_t i = 0; i < n; ++i) {
        keys[i] = order_key(x[i]);
        if (keys[i] != k_neg_inf_order_key) live = i + 1;
    }
    return live;
}

void e8m0_scales(const uint8_t* codes, int64_t n, float* out) {
    for (int64_t i = 0; i < n; ++i) out[i] = e8m0_scale(codes[i]);
}

}  // namespace

const kernel_table& scalar_kernels() {
    static const kernel_table table{decode,           gemm_nt,    axpy_rows, nullptr, nullptr, nullptr, nullptr,
                                    relu_head_sum,    nullptr,    0,         nullptr, nullptr, nullptr, order_keys,
                                    quant_block_e4m3, add_scaled, nullptr,   nullptr, nullptr, false,   nullptr,
                                    e8m0_scales,      nullptr,    nullptr,   nullptr};
    return table;
}

}  // namespace mneme::kernels::fast
