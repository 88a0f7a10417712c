// The MoE combine on the fast kernels against the reference, bit for bit: rows added in order into
// repeated token rows, widths with vector tails, on every instruction set; SwiGLU against the
// reference within the vectorised exp's rounding.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "fast-kernels.h"
#include "fast-test-support.h"
#include "mneme_kernels/cpu-fast.h"
#include "mneme_kernels/cpu-ops.h"

namespace k = mneme::kernels;

TEST_CASE("fast add_rows_scaled equals the reference bit for bit", "[fast][rows]") {
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(41);
    std::uniform_real_distribution<float> u(-2.0f, 2.0f);
    std::uniform_int_distribution<int> pick(0, 6);
    for (int64_t n : {1, 15, 16, 17, 255, 256, 257, 1000, 4099}) {
        for (int64_t rows : {1, 5, 40}) {
            const int64_t y_rows = 7;
            std::vector<float> x(static_cast<std::size_t>(rows * n)), w(static_cast<std::size_t>(rows)),
                y0(static_cast<std::size_t>(y_rows * n));
            std::vector<int32_t> idx(static_cast<std::size_t>(rows));
            for (auto& v : x) v = u(rng);
            for (auto& v : w) v = u(rng);
            for (auto& v : y0) v = u(rng);
            for (auto& i : idx) i = pick(rng);  // token rows repeat: the order of additions matters
            std::vector<float> ref(y0);
            k::add_rows_scaled<float>(ex.ctx, x.data(), rows, n, idx.data(), w.data(), ref.data(), y_rows);
            mneme::test::for_each_isa([&](k::fast::isa isa) {
                std::vector<float> got(y0);
                k::fast::add_rows_scaled(ex.ctx, x.data(), rows, n, idx.data(), w.data(), got.data());
                INFO("isa " << k::fast::isa_name(isa) << " n " << n << " rows " << rows);
                REQUIRE(std::memcmp(got.data(), ref.data(), ref.size() * sizeof(float)) == 0);
            });
        }
    }
}

TEST_CASE("fast swiglu equals the reference to float32 rounding, clamps, row weights and NaN included",
          "[fast][rows]") {
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(47);
    std::uniform_real_distribution<float> u(-12.0f, 12.0f);
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        for (const int64_t n : {1, 7, 8, 9, 16, 17, 100, 5000}) {
            for (const int64_t rows : {1, 3}) {
                for (const double limit : {0.0, 7.0}) {
                    for (const bool weighted : {false, true}) {
                        INFO("isa " << k::fast::isa_name(isa) << " n " << n << " rows " << rows << " limit " << limit
                                    << " weighted " << weighted);
                        const auto count = static_cast<std::size_t>(rows * n);
                        std::vector<float> g(count), up(count), w(static_cast<std::size_t>(rows));
                        for (auto& v : g) v = u(rng);
                        for (auto& v : up) v = u(rng);
                        for (auto& v : w) v = u(rng);
                        g[0] = n > 1 ? -200.0f : g[0];  // exp(-g) beyond float32: the product is -0
                        if (count > 3) g[3] = 95.0f;
                        if (count > 5) up[5] = std::numeric_limits<float>::quiet_NaN();
                        std::vector<float> want(count), got(count, -1.0f);
                        if (weighted) {
                            k::swiglu_weighted<float>(ex.ctx, g.data(), up.data(), rows, n, limit, w.data(),
                                                      want.data());
                        } else {
                            k::swiglu<float>(ex.ctx, g.data(), up.data(), rows * n, limit, want.data());
                        }
                        k::fast::swiglu(ex.ctx, g.data(), up.data(), rows, n, limit, weighted ? w.data() : nullptr,
                                        got.data());
                        for (std::size_t i = 0; i < count; ++i) {
                            INFO("i " << i << " g " << g[i] << " up " << up[i]);
                            if (std::isnan(want[i])) {
                                REQUIRE(std::isnan(got[i]));
                                continue;
                            }
                            // exp within 2 ulp moves g / (1 + exp(-g)) by at most ~3 ulp.
                            REQUIRE(std::fabs(got[i] - want[i]) <=
                                    4.0f * std::numeric_limits<float>::epsilon() * std::fabs(want[i]) + 1e-37f);
                        }
                    }
                }
            }
        }
    });
}

TEST_CASE("fast rms_norm equals the reference to float32 rounding", "[fast][rows]") {
    // The sum of squares is taken in vector lanes, in another order than the reference's running
    // sum; everything else is the reference's arithmetic. Both are checked against the same norm in
    // double precision: the lanes' sum is within a few float32 roundings of it.
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(53);
    std::uniform_real_distribution<float> u(-3.0f, 3.0f);
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        const bool lanes = k::fast::active_kernels().sum_squares != nullptr;
        CHECK(lanes == (isa != k::fast::isa::scalar));
        for (const int64_t d : {1, 7, 8, 15, 16, 17, 31, 63, 64, 65, 100, 1024, 4097}) {
            for (const int64_t rows : {1, 5}) {
                for (const bool weighted : {false, true}) {
                    INFO("isa " << k::fast::isa_name(isa) << " d " << d << " rows " << rows << " weighted "
                                << weighted);
                    const int64_t xs = d + 3, ys = d + 5;  // rows apart, as views of wider tensors
                    std::vector<float> x(static_cast<std::size_t>(rows * xs)), w(static_cast<std::size_t>(d));
                    for (auto& v : x) v = u(rng);
                    for (auto& v : w) v = u(rng);
                    std::vector<double> xd(x.begin(), x.end()), wd(w.begin(), w.end()),
                        want(static_cast<std::size_t>(rows * ys));
                    k::rms_norm<double>(ex.ctx, xd.data(), rows, d, xs, weighted ? wd.data() : nullptr, 1e-6,
                                        want.data(), ys);
                    std::vector<float> got(static_cast<std::size_t>(rows * ys), -7.0f);
                    k::fast::rms_norm(ex.ctx, x.data(), rows, d, xs, weighted ? w.data() : nullptr, 1e-6, got.data(),
                                      ys);
                    for (int64_t r = 0; r < rows; ++r) {
                        for (int64_t i = 0; i < d; ++i) {
                            const auto at = static_cast<std::size_t>(r * ys + i);
                            // (The scalar set keeps the reference's running sum, a few 1e-6 off at 4097.)
                            REQUIRE(std::fabs(double(got[at]) - want[at]) <= 4e-6 * std::fabs(want[at]) + 1e-30);
                        }
                        for (int64_t i = d; i < ys && r + 1 < rows; ++i) {
                            REQUIRE(got[static_cast<std::size_t>(r * ys + i)] == -7.0f);  // gaps untouched
                        }
                    }
                }
            }
        }
    });
    // The lanes' sum itself: positive terms, so its error is a few roundings of the total.
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        const auto sum_squares = k::fast::active_kernels().sum_squares;
        if (!sum_squares) return;
        for (const int64_t n : {0, 1, 9, 64, 129, 4096, 100003}) {
            std::vector<float> x(static_cast<std::size_t>(n));
            double want = 0;
            for (auto& v : x) {
                v = u(rng);
                want += double(v) * double(v);
            }
            INFO("isa " << k::fast::isa_name(isa) << " n " << n);
            REQUIRE(std::fabs(double(sum_squares(x.data(), n)) - want) <= 1e-6 * want);
        }
    });
}
