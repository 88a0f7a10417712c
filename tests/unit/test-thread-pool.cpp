#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/thread-pool.h"

namespace {

using namespace std::chrono_literals;

// A gate posted tasks block on, so a test controls how long workers stay busy. The deadline keeps a
// broken pool from hanging the test run; the test then fails on the flags it checks.
class gate {
  public:
    void wait() {
        std::unique_lock lock(m_);
        ++waiting_;
        cv_.notify_all();
        cv_.wait_for(lock, 20s, [&] { return open_; });
        ++left_;
    }
    void open() {
        std::lock_guard lock(m_);
        open_ = true;
        cv_.notify_all();
    }
    // Whether a waiter has got past the gate (opened, or timed out).
    bool any_left() {
        std::lock_guard lock(m_);
        return left_ > 0;
    }
    // Waits until `n` threads are blocked in wait().
    bool await_waiting(int n) {
        std::unique_lock lock(m_);
        return cv_.wait_for(lock, 20s, [&] { return waiting_ >= n; });
    }

  private:
    std::mutex m_;
    std::condition_variable cv_;
    int waiting_ = 0, left_ = 0;
    bool open_ = false;
};

}  // namespace

TEST_CASE("parallel_for covers every index exactly once", "[core][threads]") {
    for (unsigned threads : {1u, 2u, 3u, 4u, 8u}) {
        mneme::thread_pool pool(threads);
        for (std::size_t grain : {0u, 1u, 2u, 3u, 7u, 64u}) {
            for (std::size_t n : {0u, 1u, 2u, 3u, 5u, 7u, 13u, 31u, 97u, 128u, 1000u, 4099u}) {
                std::vector<std::atomic<int>> hits(n);
                std::atomic<int> calls{0};
                std::atomic<bool> bad_range{false};
                pool.parallel_for(n, grain, [&](std::size_t b, std::size_t e) {
                    calls.fetch_add(1);
                    if (b >= e || e > n) bad_range = true;
                    for (std::size_t i = b; i < e && i < n; ++i) hits[i].fetch_add(1);
                });
                INFO("threads " << threads << " grain " << grain << " n " << n);
                REQUIRE_FALSE(bad_range.load());
                REQUIRE(calls.load() <= static_cast<int>(threads * mneme::thread_pool::parts_per_thread));
                // Every range but the last holds at least `grain` items.
                if (n > 0) REQUIRE(calls.load() <= static_cast<int>((n + std::max<std::size_t>(grain, 1) - 1) /
                                                                     std::max<std::size_t>(grain, 1)));
                if (n > 0) REQUIRE(calls.load() >= 1);
                for (std::size_t i = 0; i < n; ++i) REQUIRE(hits[i].load() == 1);
            }
        }
    }
}

TEST_CASE("parallel_for gives the first range to the caller", "[core][threads]") {
    mneme::thread_pool pool(4);
    const auto me = std::this_thread::get_id();
    for (int rep = 0; rep < 200; ++rep) {
        std::atomic<bool> first_on_caller{false};
        pool.parallel_for(64, 1, [&](std::size_t b, std::size_t) {
            if (b == 0 && std::this_thread::get_id() == me) first_on_caller = true;
        });
        REQUIRE(first_on_caller.load());
    }
}

TEST_CASE("a pool of one thread runs parallel_for on the caller alone", "[core][threads]") {
    // Its one worker is there for post() only: a one-thread bench or session must not compute on two.
    mneme::thread_pool pool(1);
    const auto me = std::this_thread::get_id();
    std::atomic<int> elsewhere{0}, calls{0};
    for (int rep = 0; rep < 50; ++rep) {
        pool.parallel_for(1000, 1, [&](std::size_t, std::size_t) {
            calls.fetch_add(1);
            if (std::this_thread::get_id() != me) elsewhere.fetch_add(1);
        });
    }
    REQUIRE(calls.load() == 50);
    REQUIRE(elsewhere.load() == 0);
}

TEST_CASE("parallel_for nested inside a worker runs inline", "[core][threads]") {
    mneme::thread_pool pool(4);
    std::atomic<int> total{0};
    std::atomic<bool> moved_thread{false};
    pool.parallel_for(8, 1, [&](std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) {
            const auto outer = std::this_thread::get_id();
            pool.parallel_for(10, 1, [&](std::size_t b2, std::size_t e2) {
                if (std::this_thread::get_id() != outer) moved_thread = true;
                total += static_cast<int>(e2 - b2);
            });
        }
    });
    REQUIRE(total.load() == 80);
    REQUIRE_FALSE(moved_thread.load());
}

TEST_CASE("parallel_for inside a posted task runs inline", "[core][threads]") {
    std::atomic<int> total{0};
    {
        mneme::thread_pool pool(3);
        for (int t = 0; t < 8; ++t) {
            pool.post([&] {
                pool.parallel_for(100, 1, [&](std::size_t b, std::size_t e) { total += static_cast<int>(e - b); });
            });
        }
    }
    REQUIRE(total.load() == 800);
}

TEST_CASE("parallel_for rethrows the first exception after all ranges finish", "[core][threads]") {
    mneme::thread_pool pool(3);
    std::atomic<int> finished{0};
    REQUIRE_THROWS_AS(pool.parallel_for(30, 1,
                                        [&](std::size_t b, std::size_t) {
                                            if (b > 0) throw std::runtime_error("boom");
                                            std::this_thread::sleep_for(10ms);
                                            finished = 1;
                                        }),
                      std::runtime_error);
    REQUIRE(finished.load() == 1);
    // The pool stays usable and the error does not leak into the next call.
    std::atomic<int> sum{0};
    pool.parallel_for(30, 1, [&](std::size_t b, std::size_t e) { sum += static_cast<int>(e - b); });
    REQUIRE(sum.load() == 30);
}

TEST_CASE("parallel_for may be called from several host threads at once", "[core][threads]") {
    mneme::thread_pool pool(3);
    std::atomic<long> sum{0};
    std::vector<std::thread> callers;
    for (int t = 0; t < 4; ++t) {
        callers.emplace_back([&] {
            for (int rep = 0; rep < 500; ++rep) {
                pool.parallel_for(100, 1, [&](std::size_t b, std::size_t e) { sum += static_cast<long>(e - b); });
            }
        });
    }
    for (auto& c : callers) c.join();
    REQUIRE(sum.load() == 4L * 500 * 100);
}

TEST_CASE("parallel_for survives many rapid back-to-back calls", "[core][threads][stress]") {
    for (unsigned threads : {2u, 3u}) {
        mneme::thread_pool pool(threads);
        constexpr int k_calls = 20000;
        std::vector<std::atomic<int>> hits(7);
        long expected = 0, sum_seen = 0;
        for (int call = 0; call < k_calls; ++call) {
            const std::size_t n = 1 + static_cast<std::size_t>(call % 7);
            long local = 0;
            std::mutex m;
            pool.parallel_for(n, 1, [&](std::size_t b, std::size_t e) {
                long part = 0;
                for (std::size_t i = b; i < e; ++i) {
                    hits[i].fetch_add(1);
                    part += static_cast<long>(i) + call;
                }
                std::lock_guard lock(m);
                local += part;
            });
            // Every range must have finished (and be visible) when the call returns.
            for (std::size_t i = 0; i < n; ++i) expected += static_cast<long>(i) + call;
            sum_seen += local;
        }
        REQUIRE(sum_seen == expected);
        long total_hits = 0;
        for (auto& h : hits) total_hits += h.load();
        long expected_hits = 0;
        for (int call = 0; call < k_calls; ++call) expected_hits += 1 + call % 7;
        REQUIRE(total_hits == expected_hits);
    }
}

TEST_CASE("post runs every task and destruction waits for them", "[core][threads]") {
    for (unsigned threads : {1u, 2u, 4u}) {
        std::atomic<int> ran{0};
        {
            mneme::thread_pool pool(threads);
            for (int t = 0; t < 200; ++t) {
                pool.post([&, t] {
                    if (t % 50 == 0) std::this_thread::sleep_for(5ms);
                    ran.fetch_add(1);
                });
            }
        }
        REQUIRE(ran.load() == 200);
    }
}

TEST_CASE("tasks posted by tasks still run before destruction returns", "[core][threads]") {
    std::atomic<int> ran{0};
    {
        std::function<void(int)> chain;  // outlives the pool, whose destructor still runs it
        mneme::thread_pool pool(2);
        chain = [&](int left) {
            ran.fetch_add(1);
            if (left > 0) pool.post([&, left] { chain(left - 1); });
        };
        pool.post([&] { chain(50); });
        // Destroyed while the chain is still going.
    }
    REQUIRE(ran.load() == 51);
}

TEST_CASE("a throwing posted task does not take the worker down", "[core][threads]") {
    std::atomic<int> ran{0};
    {
        mneme::thread_pool pool(2);
        pool.post([] { throw std::runtime_error("background failure"); });
        pool.post([&] { ran = 1; });
    }
    REQUIRE(ran.load() == 1);
}

TEST_CASE("parallel_for completes while every worker is busy with a posted task", "[core][threads]") {
    for (unsigned threads : {2u, 3u}) {
        mneme::thread_pool pool(threads);
        gate g;
        const int workers = static_cast<int>(threads) - 1;
        for (int w = 0; w < workers; ++w) pool.post([&] { g.wait(); });
        REQUIRE(g.await_waiting(workers));

        // With all workers blocked (a disk read, say) the caller must run every range itself.
        const auto me = std::this_thread::get_id();
        std::atomic<long> sum{0};
        std::atomic<bool> off_caller{false};
        for (int rep = 0; rep < 100; ++rep) {
            pool.parallel_for(64, 1, [&](std::size_t b, std::size_t e) {
                if (std::this_thread::get_id() != me) off_caller = true;
                sum += static_cast<long>(e - b);
            });
        }
        const bool finished_before_release = !g.any_left();
        g.open();
        REQUIRE(finished_before_release);
        REQUIRE_FALSE(off_caller.load());
        REQUIRE(sum.load() == 100L * 64);
    }
}

TEST_CASE("parallel_for keeps working alongside long posted tasks", "[core][threads]") {
    mneme::thread_pool pool(3);
    std::atomic<int> tasks_done{0};
    for (int t = 0; t < 20; ++t) {
        pool.post([&] {
            std::this_thread::sleep_for(2ms);
            tasks_done.fetch_add(1);
        });
    }
    std::atomic<long> sum{0};
    const auto t0 = std::chrono::steady_clock::now();
    while (tasks_done.load() < 20 && std::chrono::steady_clock::now() - t0 < 20s) {
        pool.parallel_for(50, 1, [&](std::size_t b, std::size_t e) { sum += static_cast<long>(e - b); });
    }
    // Back-to-back calls must not starve the posted tasks.
    REQUIRE(tasks_done.load() == 20);
    REQUIRE(sum.load() % 50 == 0);
}

TEST_CASE("an idle pool does not keep spinning", "[core][threads]") {
    mneme::thread_pool pool(3);
    std::atomic<long> sum{0};
    for (int rep = 0; rep < 1000; ++rep) {
        pool.parallel_for(16, 1, [&](std::size_t b, std::size_t e) { sum += static_cast<long>(e - b); });
    }
    std::this_thread::sleep_for(20ms);  // let the workers' spin run out
    const std::clock_t c0 = std::clock();
    std::this_thread::sleep_for(300ms);
    const double cpu_s = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
    // Two workers spinning through the 300 ms would use ~0.6 s of CPU (less on a busy machine);
    // sleeping ones use next to none.
    REQUIRE(cpu_s < 0.1);
    REQUIRE(sum.load() == 16000);
}

TEST_CASE("parallel_for accepts any callable without copying it", "[core][threads]") {
    mneme::thread_pool pool(2);
    std::atomic<int> total{0};
    const std::function<void(std::size_t, std::size_t)> f = [&](std::size_t b, std::size_t e) {
        total += static_cast<int>(e - b);
    };
    pool.parallel_for(10, 1, f);
    const auto lambda = [&](std::size_t b, std::size_t e) { total += static_cast<int>(e - b); };
    pool.parallel_for(10, 1, lambda);
    struct counter {
        std::atomic<int>* t;
        void operator()(std::size_t b, std::size_t e) { *t += static_cast<int>(e - b); }
    } c{&total};
    pool.parallel_for(10, 1, c);
    REQUIRE(total.load() == 30);
}
