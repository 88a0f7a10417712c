// Exhaustive checks of the narrow-format codecs against their definitions (FORMATS.md §1, §5.8).
#include <catch2/catch.hpp>
#include <cmath>

#include "mneme_kernels/number-formats.h"

using namespace mneme::kernels;

TEST_CASE("e4m3 decode matches the bit definition for all 256 codes", "[formats]") {
    for (int b = 0; b < 256; ++b) {
        const int s = b >> 7, e = (b >> 3) & 15, m = b & 7;
        const float got = e4m3_to_f32(static_cast<uint8_t>(b));
        if (e == 15 && m == 7) {
            REQUIRE(std::isnan(got));
            continue;
        }
        const double mag = e == 0 ? std::ldexp(m, -9) : std::ldexp(8 + m, e - 10);
        REQUIRE(got == static_cast<float>(s ? -mag : mag));
    }
}

TEST_CASE("e4m3 encode round-trips every code and rounds ties to even", "[formats]") {
    for (int b = 0; b < 256; ++b) {
        const float v = e4m3_to_f32(static_cast<uint8_t>(b));
        if (std::isnan(v)) continue;
        const uint8_t back = f64_to_e4m3(v);
        REQUIRE(e4m3_to_f32(back) == v);  // -0 and +0 compare equal
    }
    // Midpoints between neighbours go to the even mantissa.
    for (int b = 0; b < 0x7e; ++b) {
        const double lo = e4m3_to_f32(static_cast<uint8_t>(b)), hi = e4m3_to_f32(static_cast<uint8_t>(b + 1));
        const uint8_t got = f64_to_e4m3((lo + hi) / 2);
        REQUIRE(got == ((b % 2 == 0) ? b : b + 1));
        REQUIRE(f64_to_e4m3(-(lo + hi) / 2) == (((b % 2 == 0) ? b : b + 1) | 0x80));
    }
    REQUIRE(f64_to_e4m3(1000.0) == 0x7e);
    REQUIRE(f64_to_e4m3(-448.0) == 0xfe);
    REQUIRE(f64_to_e4m3(1e-30) == 0x00);
}

TEST_CASE("e2m1 codes decode and encode with ties to even", "[formats]") {
    const double mags[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
    for (int c = 0; c < 16; ++c) {
        const double want = (c & 8) ? -mags[c & 7] : mags[c & 7];
        REQUIRE(k_e2m1_values[c] == static_cast<float>(want));
        REQUIRE(k_e2m1_values[f64_to_e2m1(want)] == static_cast<float>(want));
    }
    for (int c = 0; c < 7; ++c) {
        const double mid = (mags[c] + mags[c + 1]) / 2;
        REQUIRE(f64_to_e2m1(mid) == ((c % 2 == 0) ? c : c + 1));
    }
    REQUIRE(f64_to_e2m1(100.0) == 7);
    REQUIRE(f64_to_e2m1(-100.0) == 15);
}

TEST_CASE("bf16 rounds to nearest even and e8m0 is a power of two", "[formats]") {
    REQUIRE(f32_to_bf16(1.0f) == 0x3f80);
    REQUIRE(bf16_to_f32(f32_to_bf16(1.0f + std::ldexp(1.0f, -8))) == 1.0f);  // tie -> even
    REQUIRE(bf16_to_f32(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8))) == 1.0f + std::ldexp(1.0f, -6));
    for (int b = 0; b < 255; ++b) REQUIRE(e8m0_to_f64(static_cast<uint8_t>(b)) == std::ldexp(1.0, b - 127));
    REQUIRE(std::isnan(e8m0_to_f64(255)));
}
