// Exact codecs for the storage formats of DeepSeek checkpoints and activation round trips:
// bfloat16, float16, float8 e4m3fn, e8m0 power-of-two scales and FP4 e2m1 (FORMATS.md §1, §5).
// Encoders round to nearest, ties to even, and saturate where the format says so.
#pragma once

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace mneme::kernels {

inline float bf16_to_f32(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

inline uint16_t f32_to_bf16(float f) {
    uint32_t u = std::bit_cast<uint32_t>(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<uint16_t>(u >> 16);
}

inline float f16_to_f32(uint16_t h) {
    const uint32_t sign = (h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    const uint32_t man = h & 0x3ffu;
    float v;
    if (exp == 0) {
        v = std::ldexp(static_cast<float>(man), -24);
    } else if (exp == 31) {
        v = man ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
    } else {
        v = std::ldexp(static_cast<float>(man | 0x400u), static_cast<int>(exp) - 25);
    }
    return sign ? -v : v;
}

// e4m3fn: 1 sign, 4 exponent bits (bias 7), 3 mantissa bits; no infinities; 0x7f/0xff are NaN.
inline float e4m3_to_f32(uint8_t b) {
    const int exp = (b >> 3) & 0xf;
    const int man = b & 0x7;
    float v;
    if (exp == 0xf && man == 0x7) {
        v = std::numeric_limits<float>::quiet_NaN();
    } else if (exp == 0) {
        v = std::ldexp(static_cast<float>(man), -9);  // m/8 * 2^-6
    } else {
        v = std::ldexp(static_cast<float>(8 + man), exp - 10);  // (1 + m/8) * 2^(e-7)
    }
    return (b & 0x80) ? -v : v;
}

// Lookup table for decoding: 256 entries, built once.
inline const std::array<float, 256>& e4m3_table() {
    static const std::array<float, 256> table = [] {
        std::array<float, 256> t{};
        for (int i = 0; i < 256; ++i) t[i] = e4m3_to_f32(static_cast<uint8_t>(i));
        return t;
    }();
    return table;
}

// Rounds a double to the nearest e4m3 value (ties to even), saturating at ±448. Works in double so
// that the same function serves the float32 and float64 paths: every float converts exactly.
inline uint8_t f64_to_e4m3(double x) {
    if (std::isnan(x)) return 0x7f;
    const uint8_t sign = std::signbit(x) ? 0x80 : 0x00;
    double a = std::fabs(x);
    if (a >= 448.0) return sign | 0x7e;  // saturate to the largest finite value
    if (a < std::ldexp(1.0, -6)) {
        // Subnormal range: multiples of 2^-9.
        const double q = std::nearbyint(a * 512.0);  // default rounding mode: ties to even
        return sign | static_cast<uint8_t>(q);       // q == 8 is the smallest normal, encoded identically
    }
    int e;
    std::frexp(a, &e);            // a = f * 2^e with f in [0.5, 1)
    const int exp2 = e - 1;       // a in [2^exp2, 2^(exp2+1))
    const double step = std::ldexp(1.0, exp2 - 3);
    double q = std::nearbyint(a / step) * step;  // 3 mantissa bits, ties to even
    if (q >= 448.0) return sign | 0x7e;
    int qe;
    const double qf = std::frexp(q, &qe);
    const int biased = (qe - 1) + 7;
    const int man = static_cast<int>(std::nearbyint((qf * 2.0 - 1.0) * 8.0));
    return sign | static_cast<uint8_t>((biased << 3) | man);
}

inline double e8m0_to_f64(uint8_t b) {
    return b == 0xff ? std::numeric_limits<double>::quiet_NaN() : std::ldexp(1.0, static_cast<int>(b) - 127);
}
inline float e8m0_to_f32(uint8_t b) { return static_cast<float>(e8m0_to_f64(b)); }

// FP4 e2m1 nibble values (FORMATS.md §1): element 2k in the low nibble.
inline constexpr std::array<float, 16> k_e2m1_values = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                                                        -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

inline float fp4_at(const uint8_t* packed, int64_t i) {
    const uint8_t byte = packed[i >> 1];
    return k_e2m1_values[(i & 1) ? (byte >> 4) : (byte & 0xf)];
}

// Rounds to the nearest e2m1 value (ties to even mantissa), saturating at ±6. Returns the nibble.
inline uint8_t f64_to_e2m1(double x) {
    const uint8_t sign = std::signbit(x) ? 8 : 0;
    const double a = std::fabs(x);
    // Representable magnitudes 0, .5, 1, 1.5, 2, 3, 4, 6; midpoints tie to the even code.
    static constexpr double k_mid[7] = {0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0};
    uint8_t code = 7;
    for (uint8_t c = 0; c < 7; ++c) {
        if (a < k_mid[c]) {
            code = c;
            break;
        }
        if (a == k_mid[c]) {
            code = (c % 2 == 0) ? c : static_cast<uint8_t>(c + 1);  // even code wins the tie
            break;
        }
    }
    return sign | code;
}

}  // namespace mneme::kernels
