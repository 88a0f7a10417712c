#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "core/thread-pool.h"

TEST_CASE("parallel_for covers every index exactly once", "[core][threads]") {
    for (unsigned threads : {1u, 2u, 3u, 8u}) {
        mneme::thread_pool pool(threads);
        for (std::size_t n : {0u, 1u, 2u, 7u, 97u, 1000u}) {
            std::vector<std::atomic<int>> hits(n);
            pool.parallel_for(n, 1, [&](std::size_t b, std::size_t e) {
                for (std::size_t i = b; i < e; ++i) hits[i].fetch_add(1);
            });
            for (std::size_t i = 0; i < n; ++i) REQUIRE(hits[i].load() == 1);
        }
    }
}

TEST_CASE("parallel_for nested inside a worker runs inline", "[core][threads]") {
    mneme::thread_pool pool(4);
    std::atomic<int> total{0};
    pool.parallel_for(8, 1, [&](std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) {
            pool.parallel_for(10, 1, [&](std::size_t b2, std::size_t e2) { total += static_cast<int>(e2 - b2); });
        }
    });
    REQUIRE(total.load() == 80);
}

TEST_CASE("parallel_for rethrows the first exception after all ranges finish", "[core][threads]") {
    mneme::thread_pool pool(3);
    REQUIRE_THROWS_AS(pool.parallel_for(30, 1,
                                        [&](std::size_t b, std::size_t) {
                                            if (b > 0) throw std::runtime_error("boom");
                                        }),
                      std::runtime_error);
}

TEST_CASE("parallel_for may be called from several host threads at once", "[core][threads]") {
    mneme::thread_pool pool(3);
    std::atomic<long> sum{0};
    std::vector<std::thread> callers;
    for (int t = 0; t < 4; ++t) {
        callers.emplace_back([&] {
            for (int rep = 0; rep < 50; ++rep) {
                pool.parallel_for(100, 1, [&](std::size_t b, std::size_t e) { sum += static_cast<long>(e - b); });
            }
        });
    }
    for (auto& c : callers) c.join();
    REQUIRE(sum.load() == 4L * 50 * 100);
}
