#include "bench-gemm-peak.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>

#include "core/thread-pool.h"
#include "mneme_kernels/cpu-fast.h"

namespace mneme_cli::bench {
namespace {

namespace k = mneme::kernels;

struct weights {
    std::vector<uint8_t> data, scale;
    k::weight_view view;
};

// Random weights in [-1, 1]: no subnormals, which would measure the CPU's assists, not the kernel.
weights make_weights(bool fp8, int64_t n, int64_t kd) {
    std::mt19937 rng(7);
    weights w;
    w.view.n = n;
    w.view.k = kd;
    if (fp8) {
        w.data.resize(static_cast<std::size_t>(n * kd));
        for (auto& b : w.data) b = static_cast<uint8_t>(rng() & 0xb7);  // normal e4m3 codes, both signs
        const int64_t sn = (n + 127) / 128, sk = (kd + 127) / 128;
        w.scale.resize(static_cast<std::size_t>(sn * sk * 4));
        const float one = 1.0f / 256.0f;
        for (int64_t i = 0; i < sn * sk; ++i) std::memcpy(w.scale.data() + 4 * i, &one, 4);
        w.view.format = k::weight_format::e4m3;
        w.view.row_bytes = kd;
        w.view.scale = w.scale.data();
        w.view.scale_fmt = k::scale_format::f32;
        w.view.block_n = 128;
        w.view.block_k = 128;
        w.view.scale_row_elems = sk;
    } else {
        std::uniform_real_distribution<float> u(-1.0f, 1.0f);
        w.data.resize(static_cast<std::size_t>(n * kd * 4));
        for (int64_t i = 0; i < n * kd; ++i) {
            const float v = u(rng);
            std::memcpy(w.data.data() + 4 * i, &v, 4);
        }
        w.view.format = k::weight_format::f32;
        w.view.row_bytes = 4 * kd;
    }
    w.view.data = w.data.data();
    return w;
}

double time_best(int reps, const std::function<void()>& f) {
    f();  // warm-up
    double best = 1e30;
    for (int i = 0; i < std::max(reps, 1); ++i) {
        const auto a = std::chrono::steady_clock::now();
        f();
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
    }
    return best;
}

// Register-only FMAs: 12 independent chains (more than latency × throughput on current cores).
constexpr int k_chains = 12;
constexpr long k_fma_iters = 1 << 22;

#if defined(__x86_64__)
__attribute__((target("avx512f"))) double fma_avx512() {
    __m512 acc[k_chains];
    const __m512 m = _mm512_set1_ps(0.999f), a = _mm512_set1_ps(0.001f);
    for (auto& v : acc) v = m;
    for (long it = 0; it < k_fma_iters; ++it) {
#pragma GCC unroll 12
        for (int c = 0; c < k_chains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], m, a);  // unrolled: chains in registers
    }
    double s = 0;
    for (auto& v : acc) s += static_cast<double>(_mm512_cvtss_f32(v));
    return s;
}

__attribute__((target("avx2,fma"))) double fma_avx2() {
    __m256 acc[k_chains];
    const __m256 m = _mm256_set1_ps(0.999f), a = _mm256_set1_ps(0.001f);
    for (auto& v : acc) v = m;
    for (long it = 0; it < k_fma_iters; ++it) {
#pragma GCC unroll 12
        for (int c = 0; c < k_chains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], m, a);
    }
    double s = 0;
    for (auto& v : acc) s += static_cast<double>(_mm256_cvtss_f32(v));
    return s;
}
#endif

double measure_fma_peak(mneme::thread_pool& pool) {
#if !defined(__x86_64__)
    (void)pool;
    return 0.0;
#else
    const bool wide = __builtin_cpu_supports("avx512f");
    if (!wide && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) return 0.0;
    const double lanes = wide ? 16.0 : 8.0;
    std::atomic<double> sink{0.0};
    double best = 0;
    for (int rep = 0; rep < 3; ++rep) {
        const auto t0 = std::chrono::steady_clock::now();
        pool.parallel_for(pool.size(), 1, [&](std::size_t b, std::size_t e) {
            for (std::size_t i = b; i < e; ++i) sink.store(sink.load() + (wide ? fma_avx512() : fma_avx2()));
        });
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        best = std::max(best, static_cast<double>(pool.size()) * k_fma_iters * k_chains * lanes * 2.0 / s / 1e9);
    }
    return sink.load() == -1.0 ? 0.0 : best;  // the comparison keeps the chains from being optimised away
#endif
}

}  // namespace

double gemm_peak::best_gflops() const {
    double best = 0;
    for (const auto& s : shapes) best = std::max(best, s.gflops);
    return best;
}

gemm_peak measure_gemm_peak(mneme::thread_pool& pool, int reps) {
    k::exec_ctx ex;
    ex.host = &pool;
    ex.parallel_for = [](void* host, std::size_t n, std::size_t grain, void (*fn)(void*, std::size_t, std::size_t),
                         void* c) {
        static_cast<mneme::thread_pool*>(host)->parallel_for(n, grain,
                                                             [&](std::size_t b, std::size_t e) { fn(c, b, e); });
    };
    // The same narrowing as the CPU plugin's MNEME_CPU_ISA, so the peak is that of the kernels the
    // model runs with.
    k::fast::select_isa(k::fast::isa_at_most(std::getenv("MNEME_CPU_ISA")));
    gemm_peak out;
    out.isa = k::fast::isa_name(k::fast::active_isa());
    struct shape {
        bool fp8;
        int64_t rows, n, kd;
    };
    // Weights of 4–16 MiB (streamed from L3/DRAM once per call) against 128–512 activation rows:
    // 32–128 FLOPs per weight byte, well past the memory roofline, so the kernel's arithmetic rate shows.
    for (const shape s : {shape{false, 256, 1024, 2048}, shape{false, 512, 1024, 2048}, shape{true, 256, 2048, 2048},
                          shape{true, 512, 2048, 2048}}) {
        const weights w = make_weights(s.fp8, s.n, s.kd);
        std::vector<float> x(static_cast<std::size_t>(s.rows * s.kd), 0.01f), y(static_cast<std::size_t>(s.rows * s.n));
        const double t =
            time_best(reps, [&] { k::fast::matmul(ex, x.data(), s.rows, s.kd, w.view, y.data(), s.n, 1.0); });
        out.shapes.push_back(
            {s.fp8 ? "fp8" : "f32", s.rows, s.n, s.kd, 2.0 * static_cast<double>(s.rows * s.n * s.kd) / t / 1e9});
    }
    out.fma_gflops = measure_fma_peak(pool);
    return out;
}

}  // namespace mneme_cli::bench
