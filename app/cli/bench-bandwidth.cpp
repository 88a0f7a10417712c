#include "bench-bandwidth.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <unistd.h>

#include "core/thread-pool.h"

namespace mneme_cli::bench {
namespace {

// Chunks smaller than this are not worth a thread; large enough that every thread gets one
// contiguous slice of each array (the pool splits [0, n) into at most one range per thread).
constexpr std::size_t k_grain = 1 << 16;

struct timings {
    double best_s = 0, median_s = 0;
};

timings time_reps(int reps, const std::function<void()>& f) {
    f();  // warm-up: pages are touched and the threads are running
    std::vector<double> t;
    for (int i = 0; i < std::max(reps, 1); ++i) {
        const auto a = std::chrono::steady_clock::now();
        f();
        t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
    }
    std::sort(t.begin(), t.end());
    return {t.front(), t[t.size() / 2]};
}

}  // namespace

std::size_t default_array_bytes() {
    long llc = 0;
#if defined(_SC_LEVEL3_CACHE_SIZE)
    llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
#endif
    const std::size_t want = llc > 0 ? 2 * static_cast<std::size_t>(llc) : 0;
    return std::clamp<std::size_t>(want, std::size_t{128} << 20, std::size_t{1} << 30);
}

double bandwidth_result::best_gbs() const {
    return std::max({copy_gbs, triad_gbs, read_gbs});
}

bandwidth_result measure_bandwidth(mneme::thread_pool& pool, std::size_t bytes_per_array, int reps) {
    const std::size_t n = bytes_per_array / sizeof(float);
    // Uninitialised storage, first touched by the thread that will stream it.
    std::unique_ptr<float[]> a(new float[n]), b(new float[n]), c(new float[n]);
    pool.parallel_for(n, k_grain, [&](std::size_t i0, std::size_t i1) {
        for (std::size_t i = i0; i < i1; ++i) {
            a[i] = 0.0f;
            b[i] = 1.0f;
            c[i] = 2.0f;
        }
    });
    const double bytes = static_cast<double>(n * sizeof(float));
    bandwidth_result r;

    const timings copy = time_reps(reps, [&] {
        pool.parallel_for(n, k_grain, [&](std::size_t i0, std::size_t i1) {
            for (std::size_t i = i0; i < i1; ++i) a[i] = b[i];
        });
    });
    r.copy_gbs = 2.0 * bytes / copy.best_s / 1e9;

    const timings triad = time_reps(reps, [&] {
        pool.parallel_for(n, k_grain, [&](std::size_t i0, std::size_t i1) {
            for (std::size_t i = i0; i < i1; ++i) a[i] = b[i] + 3.0f * c[i];
        });
    });
    r.triad_gbs = 3.0 * bytes / triad.best_s / 1e9;
    r.triad_median_gbs = 3.0 * bytes / triad.median_s / 1e9;

    // Read-only: integer sums vectorise without reassociating floating point. The result is
    // stored so the loads cannot be dropped.
    const auto* words = reinterpret_cast<const uint64_t*>(b.get());
    const std::size_t n_words = n * sizeof(float) / sizeof(uint64_t);
    std::atomic<uint64_t> sink{0};
    const timings read = time_reps(reps, [&] {
        pool.parallel_for(n_words, k_grain, [&](std::size_t i0, std::size_t i1) {
            uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            std::size_t i = i0;
            for (; i + 4 <= i1; i += 4) {
                s0 += words[i];
                s1 += words[i + 1];
                s2 += words[i + 2];
                s3 += words[i + 3];
            }
            for (; i < i1; ++i) s0 += words[i];
            sink.fetch_add(s0 + s1 + s2 + s3, std::memory_order_relaxed);
        });
    });
    r.read_gbs = bytes / read.best_s / 1e9;
    volatile uint64_t keep = sink.load();
    (void)keep;
    return r;
}

}  // namespace mneme_cli::bench
