// The fast FP8 activation round trip against the reference kernel, bit for bit: random blocks over
// many magnitudes, exact ties of the e4m3 grid (normal and subnormal), signed zeros, ragged last
// blocks, and blocks that must take the reference path (NaN, infinity, huge values).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "fast-test-support.h"
#include "mneme_kernels/cpu-fast.h"
#include "mneme_kernels/number-formats.h"

namespace {

namespace k = mneme::kernels;

void require_same_bits(const std::vector<float>& ref, const std::vector<float>& got) {
    REQUIRE(ref.size() == got.size());
    for (std::size_t i = 0; i < ref.size(); ++i) {
        INFO("element " << i << " ref " << ref[i] << " got " << got[i]);
        if (std::isnan(ref[i])) {
            REQUIRE(std::isnan(got[i]));
            continue;
        }
        uint32_t a, b;
        std::memcpy(&a, &ref[i], 4);
        std::memcpy(&b, &got[i], 4);
        REQUIRE(a == b);
    }
}

void check(mneme::test::pooled_exec& ex, const std::vector<float>& x, int64_t rows, int64_t n, int64_t block) {
    std::vector<float> ref(x.size(), -3.0f);
    k::quant_roundtrip<float>(ex.ctx, x.data(), rows, n, n, k::quant_format::e4m3, block, ref.data(), n);
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        std::vector<float> got(x.size(), -3.0f);
        k::fast::quant_roundtrip_e4m3(ex.ctx, x.data(), rows, n, n, block, got.data(), n);
        INFO("isa " << k::fast::isa_name(isa));
        require_same_bits(ref, got);
    });
}

}  // namespace

TEST_CASE("fast FP8 activation round trip equals the reference bit for bit", "[fast][quant]") {
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(37);
    std::uniform_real_distribution<float> mant(-1.0f, 1.0f);
    std::uniform_int_distribution<int> expo(-40, 40);

    SECTION("random blocks over many magnitudes, ragged last blocks") {
        for (int64_t block : {128, 64, 7, 1}) {
            for (int64_t n : {128, 300, 64, 5}) {
                const int64_t rows = 9;
                std::vector<float> x(static_cast<std::size_t>(rows * n));
                for (std::size_t i = 0; i < x.size(); ++i) {
                    // Per row a common magnitude, so that blocks hold both large and tiny values.
                    x[i] = std::ldexp(mant(rng), expo(rng) / (i % 3 == 0 ? 1 : 4));
                }
                INFO("block " << block << " n " << n);
                check(ex, x, rows, n, block);
            }
        }
    }

    SECTION("exact ties of the e4m3 grid, subnormal range and signed zeros") {
        // With a block maximum of 448 the scale is 1: every e4m3 value and every midpoint between
        // neighbours (ties to even) appear unscaled, and again with the scale 2^-10 and 2^5.
        std::vector<float> grid;
        for (int c = 0; c < 127; ++c) grid.push_back(k::e4m3_to_f32(static_cast<uint8_t>(c)));
        std::vector<float> x{448.0f, -0.0f, 0.0f};
        for (std::size_t i = 0; i + 1 < grid.size(); ++i) {
            x.push_back(grid[i]);
            x.push_back(-0.5f * (grid[i] + grid[i + 1]));
            x.push_back(std::nextafter(0.5f * (grid[i] + grid[i + 1]), 0.0f));
            x.push_back(std::nextafter(0.5f * (grid[i] + grid[i + 1]), 1e9f));
        }
        x.push_back(-1e-30f);  // rounds to -0
        x.push_back(1e-40f);   // a float32 subnormal
        const int64_t n = static_cast<int64_t>(x.size());
        for (float scale : {1.0f, 0x1p-10f, 0x1p5f}) {
            std::vector<float> xs(x);
            for (auto& v : xs) v *= scale;
            INFO("scale " << scale);
            check(ex, xs, 1, n, n);
        }
    }

    SECTION("blocks holding NaN, infinity or huge values take the reference path") {
        const int64_t n = 256, block = 128;
        std::vector<float> x(static_cast<std::size_t>(n));
        for (auto& v : x) v = mant(rng);
        x[3] = std::numeric_limits<float>::quiet_NaN();
        x[130] = std::numeric_limits<float>::infinity();
        check(ex, x, 1, n, block);
        x[3] = 3e38f;
        x[130] = -1e36f;
        check(ex, x, 1, n, block);
    }
}

TEST_CASE("fast FP4 activation round trip equals the reference bit for bit", "[fast][quant]") {
    // V4's indexer rounds its queries and keys through e2m1 per block of 32: random blocks over many
    // magnitudes, every grid value and every midpoint (ties to the even code) and their neighbours,
    // values that leave float32's normal range once scaled, signed zeros, ragged blocks, and blocks
    // that take the reference path.
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(41);
    std::uniform_real_distribution<float> mant(-1.0f, 1.0f);
    std::uniform_int_distribution<int> expo(-60, 60);
    const auto same = [&](const std::vector<float>& x, int64_t rows, int64_t n, int64_t block) {
        std::vector<float> ref(x.size(), -3.0f), got(x.size(), -3.0f);
        k::quant_roundtrip<float>(ex.ctx, x.data(), rows, n, n, k::quant_format::e2m1, block, ref.data(), n);
        k::fast::quant_roundtrip_e2m1(ex.ctx, x.data(), rows, n, n, block, got.data(), n);
        require_same_bits(ref, got);
    };
    for (int64_t block : {32, 64, 7, 1}) {
        for (int64_t n : {32, 300, 5}) {
            const int64_t rows = 7;
            std::vector<float> x(static_cast<std::size_t>(rows * n));
            for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::ldexp(mant(rng), expo(rng) / (i % 3 == 0 ? 1 : 4));
            INFO("block " << block << " n " << n);
            same(x, rows, n, block);
        }
    }
    // With a block maximum of 6 the scale is 1: the grid, its midpoints and their neighbours unscaled.
    const float grid[] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
    std::vector<float> x{6.0f, -0.0f, 0.0f};
    for (std::size_t i = 0; i + 1 < std::size(grid); ++i) {
        const float mid = 0.5f * (grid[i] + grid[i + 1]);
        for (float v : {grid[i], mid, -mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 9.0f)}) x.push_back(v);
    }
    x.push_back(-1e-30f);
    x.push_back(1e-40f);
    for (float scale : {1.0f, 0x1p-20f, 0x1p30f, 0x1p-120f}) {
        std::vector<float> xs(x);
        for (auto& v : xs) v *= scale;  // at 2^-120 the small ones leave the normal range
        INFO("scale " << scale);
        same(xs, 1, static_cast<int64_t>(xs.size()), static_cast<int64_t>(xs.size()));
    }
    std::vector<float> odd(96);
    for (auto& v : odd) v = mant(rng);
    odd[3] = std::numeric_limits<float>::quiet_NaN();
    odd[40] = -std::numeric_limits<float>::infinity();
    odd[70] = 3e38f;
    same(odd, 1, 96, 32);
}
