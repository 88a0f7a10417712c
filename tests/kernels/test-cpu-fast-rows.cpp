// The MoE combine on the fast kernels against the reference, bit for bit: rows added in order into
// repeated token rows, widths with vector tails, on every instruction set.
#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <vector>

#include "fast-test-support.h"
#include "mneme_kernels/cpu-fast.h"
#include "mneme_kernels/cpu-ops.h"

namespace k = mneme::kernels;

TEST_CASE("fast add_rows_scaled equals the reference bit for bit", "[fast][rows]") {
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(41);
    std::uniform_real_distribution<float> u(-2.0f, 2.0f);
    std::uniform_int_distribution<int> pick(0, 6);
    for (int64_t n : {1, 15, 16, 17, 255, 256, 257, 1000}) {
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
