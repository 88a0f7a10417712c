// The selection top-k against the reference partial sort: the same positions in the same order on
// rows full of ties (few distinct values), NaNs, infinities and signed zeros, strided rows, and
// every k from 1 to n on short rows.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "fast-test-support.h"
#include "mneme_kernels/cpu-fast.h"

namespace {

namespace k = mneme::kernels;

void check(mneme::test::pooled_exec& ex, const std::vector<float>& x, int64_t rows, int64_t n, int64_t stride,
           int64_t kk) {
    std::vector<int32_t> ref(static_cast<std::size_t>(rows * kk), -1);
    k::topk<float>(ex.ctx, x.data(), rows, n, stride, kk, ref.data());
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        std::vector<int32_t> got(ref.size(), -2);
        k::fast::topk(ex.ctx, x.data(), rows, n, stride, kk, got.data());
        INFO("isa " << k::fast::isa_name(isa) << " rows " << rows << " n " << n << " stride " << stride << " k " << kk);
        REQUIRE(ref == got);
    });
}

// Values drawn from a small set, so that ties decide much of the order, plus the special values.
std::vector<float> awkward_row_values(std::mt19937_64& rng, std::size_t count, int distinct) {
    const float specials[] = {std::numeric_limits<float>::quiet_NaN(),
                              -std::numeric_limits<float>::quiet_NaN(),
                              std::numeric_limits<float>::infinity(),
                              -std::numeric_limits<float>::infinity(),
                              0.0f,
                              -0.0f,
                              std::numeric_limits<float>::denorm_min(),
                              -1e-38f};
    std::uniform_int_distribution<int> pick(0, distinct - 1), special(0, 7), coin(0, 9);
    std::vector<float> x(count);
    for (auto& v : x)
        v = coin(rng) == 0 ? specials[special(rng)] : static_cast<float>(pick(rng) - distinct / 2) * 0.25f;
    return x;
}

}  // namespace

TEST_CASE("selection top-k returns the reference's positions in its order", "[fast][topk]") {
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(91);

    SECTION("every k on short rows full of ties and special values") {
        for (int64_t n : {1, 2, 3, 7, 16, 31}) {
            const int64_t rows = 5;
            const auto x = awkward_row_values(rng, static_cast<std::size_t>(rows * n), 4);
            for (int64_t kk = 1; kk <= n; ++kk) check(ex, x, rows, n, n, kk);
        }
    }
    SECTION("long rows, strided, index_topk-sized k") {
        for (int64_t n : {257, 2048, 4099}) {
            for (int distinct : {3, 50, 100000}) {
                const int64_t rows = 7, stride = n + 13;
                const auto x = awkward_row_values(rng, static_cast<std::size_t>(rows * stride), distinct);
                for (int64_t kk : {int64_t{1}, int64_t{64}, int64_t{256}, n - 1, n}) check(ex, x, rows, n, stride, kk);
            }
        }
    }
    SECTION("distinct random scores") {
        std::normal_distribution<float> nd(0.0f, 3.0f);
        const int64_t rows = 33, n = 1000;
        std::vector<float> x(static_cast<std::size_t>(rows * n));
        for (auto& v : x) v = nd(rng);
        check(ex, x, rows, n, n, 100);
        // Scores within 0.1 % of each other: all share their top bits, so the selection runs over
        // the whole row.
        std::uniform_real_distribution<float> narrow(1.0f, 1.001f);
        for (auto& v : x) v = narrow(rng);
        check(ex, x, rows, n, n, 100);
    }
    SECTION("causal rows: a tail of -inf after the visible scores, NaNs among them") {
        // The tail is left out when k positions precede it, unless a NaN would be chosen (it
        // ranks below the -inf of the tail).
        std::normal_distribution<float> nd(0.0f, 1.0f);
        std::uniform_int_distribution<int> coin(0, 19);
        for (int64_t n : {300, 2500}) {
            for (int64_t kk : {int64_t{1}, int64_t{16}, int64_t{256}}) {
                for (int64_t visible : {kk - 1, kk, kk + 1, kk + 40, n / 2, n}) {
                    if (visible < 0 || visible > n) continue;
                    for (int nan_rate : {0, 1, 20}) {
                        const int64_t rows = 3;
                        std::vector<float> x(static_cast<std::size_t>(rows * n));
                        for (int64_t r = 0; r < rows; ++r) {
                            for (int64_t i = 0; i < n; ++i) {
                                float v = i < visible ? nd(rng) : -std::numeric_limits<float>::infinity();
                                if (i < visible && nan_rate > 0 && coin(rng) < nan_rate) {
                                    v = std::numeric_limits<float>::quiet_NaN();
                                }
                                x[static_cast<std::size_t>(r * n + i)] = v;
                            }
                        }
                        INFO("visible " << visible << " NaN rate " << nan_rate);
                        check(ex, x, rows, n, n, kk);
                    }
                }
            }
        }
    }
    SECTION("all NaN and all equal rows") {
        const int64_t n = 40;
        check(ex, std::vector<float>(n, std::numeric_limits<float>::quiet_NaN()), 1, n, n, 10);
        check(ex, std::vector<float>(n, 1.5f), 1, n, n, 10);
        std::vector<float> zeros(n, 0.0f);
        for (int64_t i = 0; i < n; i += 3) zeros[static_cast<std::size_t>(i)] = -0.0f;
        check(ex, zeros, 1, n, n, 17);
    }
}
