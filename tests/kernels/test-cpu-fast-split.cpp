// The optimised products give the same bits however the worker pool cuts them into ranges: run on
// the calling thread alone and on pools of 2, 3 and 5 threads (up to thread_pool::parts_per_thread
// ranges each, claimed by whichever thread is free), every result must be identical. Decode-sized,
// drafting-sized and prefill-sized row counts, each stored format, each instruction set.
#include <catch2/catch.hpp>

#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "fast-test-support.h"

namespace k = mneme::kernels;
using mneme::test::pooled_exec;

TEST_CASE("fast matmul gives the same bits however the pool splits it", "[fast][split]") {
    std::mt19937_64 rng(0x5b1175);
    pooled_exec two(2), three(3), five(5);
    const k::exec_ctx serial;
    const mneme::test::stored_format formats[] = {
        {k::weight_format::e4m3, k::scale_format::f32, 128, 128},
        {k::weight_format::bf16, k::scale_format::none, 1, 1},
        {k::weight_format::e2m1, k::scale_format::e8m0, 1, 32},
        {k::weight_format::f32, k::scale_format::none, 1, 1},
    };
    const std::pair<int64_t, int64_t> shapes[] = {{1, 64}, {37, 256}, {300, 512}, {1031, 128}};
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        for (const mneme::test::stored_format& fc : formats) {
            for (const auto& [n, kd] : shapes) {
                const auto w = mneme::test::random_weight(rng, fc.fmt, n, kd, fc.sfmt, fc.block_n, fc.block_k);
                for (const int64_t rows : {1, 2, 5, 16, 17, 40}) {
                    CAPTURE(k::fast::isa_name(isa), static_cast<int>(fc.fmt), n, kd, rows);
                    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
                    std::vector<float> x(static_cast<std::size_t>(rows * kd));
                    for (float& v : x) v = u(rng);
                    const auto product = [&](const k::exec_ctx& ex) {
                        std::vector<float> y(static_cast<std::size_t>(rows * n));
                        k::fast::matmul(ex, x.data(), rows, kd, w.view, y.data(), n, 1.0);
                        return y;
                    };
                    const std::vector<float> alone = product(serial);
                    for (const pooled_exec* pool : {&two, &three, &five}) {
                        CAPTURE(pool->pool.size());
                        const std::vector<float> split = product(pool->ctx);
                        REQUIRE(std::memcmp(alone.data(), split.data(), alone.size() * sizeof(float)) == 0);
                    }
                }
            }
        }
    });
}
