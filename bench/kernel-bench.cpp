// Kernel-level before/after figures for the CPU backend: the reference kernels against the fast
// float32 kernels (each instruction set), next to the machine's measured memory bandwidth.
// Build and run: see docs/PERFORMANCE.md. Prints one line per measurement; min and median of reps.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "bench-bandwidth.h"
#include "core/thread-pool.h"
#include "mneme_kernels/cpu-fast.h"
#include "mneme_kernels/number-formats.h"

namespace k = mneme::kernels;

namespace {

struct stats {
    double min_s, median_s;
};

stats time_it(int reps, const std::function<void()>& f) {
    f();  // warm-up
    std::vector<double> t;
    for (int i = 0; i < reps; ++i) {
        const auto a = std::chrono::steady_clock::now();
        f();
        t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
    }
    std::sort(t.begin(), t.end());
    return {t.front(), t[t.size() / 2]};
}

struct weights {
    std::vector<uint8_t> data, scale;
    k::weight_view view;
};

weights make_weights(k::weight_format fmt, int64_t n, int64_t kd) {
    std::mt19937 rng(1);
    weights w;
    const int64_t rb = fmt == k::weight_format::f32 ? 4 * kd
                       : fmt == k::weight_format::bf16 ? 2 * kd
                       : fmt == k::weight_format::e4m3 ? kd
                                                       : (kd + 1) / 2;
    // Values in [-1, 1] (no subnormals, which would measure the CPU's assists instead of the kernel).
    w.data.resize(static_cast<std::size_t>(rb * n));
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (int64_t i = 0; i < n * kd; ++i) {
        if (fmt == k::weight_format::f32) {
            const float v = u(rng);
            std::memcpy(w.data.data() + 4 * i, &v, 4);
        } else if (fmt == k::weight_format::bf16) {
            const uint16_t h = k::f32_to_bf16(u(rng));
            std::memcpy(w.data.data() + 2 * i, &h, 2);
        }
    }
    if (fmt == k::weight_format::e4m3 || fmt == k::weight_format::e2m1) {
        for (auto& b : w.data) b = static_cast<uint8_t>(rng() & 0xb7);  // normal e4m3 codes; any e2m1 pair
    }
    w.view.data = w.data.data();
    w.view.format = fmt;
    w.view.n = n;
    w.view.k = kd;
    w.view.row_bytes = rb;
    if (fmt == k::weight_format::e4m3 || fmt == k::weight_format::e2m1) {
        const int64_t bn = fmt == k::weight_format::e4m3 ? 128 : 1, bk = fmt == k::weight_format::e4m3 ? 128 : 32;
        const int64_t sn = (n + bn - 1) / bn, sk = (kd + bk - 1) / bk;
        w.scale.assign(static_cast<std::size_t>(sn * sk), 127);
        w.view.scale = w.scale.data();
        w.view.scale_fmt = k::scale_format::e8m0;
        w.view.block_n = bn;
        w.view.block_k = bk;
        w.view.scale_row_elems = sk;
    }
    // As the CPU backend marks a model's FP8 weights once scanned at load (no per-row NaN scan).
    w.view.no_nan_codes = fmt == k::weight_format::e4m3;
    return w;
}

const char* fmt_name(k::weight_format f) {
    switch (f) {
        case k::weight_format::f32: return "f32";
        case k::weight_format::bf16: return "bf16";
        case k::weight_format::e4m3: return "fp8-e4m3+e8m0/128";
        case k::weight_format::e2m1: return "fp4-e2m1+e8m0/32";
        default: return "?";
    }
}

}  // namespace

int main(int argc, char** argv) {
    const unsigned threads = argc > 1 ? static_cast<unsigned>(std::atoi(argv[1])) : 2;
    const int reps = argc > 2 ? std::atoi(argv[2]) : 7;
    const std::string only = argc > 3 ? argv[3] : "";  // "experts": only the cold expert chain
    mneme::thread_pool pool(threads);
    k::exec_ctx ex;
    ex.host = &pool;
    ex.parallel_for = [](void* host, std::size_t n, std::size_t grain, void (*fn)(void*, std::size_t, std::size_t),
                         void* c) {
        static_cast<mneme::thread_pool*>(host)->parallel_for(n, grain, [&](std::size_t b, std::size_t e) { fn(c, b, e); });
    };
    std::printf("threads %u, best isa %s\n", threads, k::fast::isa_name(k::fast::detect_isa()));

    // STREAM-like triad a = b + s*c over 3 x 128 MiB (far beyond any LLC), split over the pool.
    const std::size_t nf = 32u << 20;
    std::vector<float> a(nf, 0.0f), b(nf, 1.0f), c(nf, 2.0f);
    auto triad = time_it(reps, [&] {
        pool.parallel_for(nf, 1 << 16, [&](std::size_t i0, std::size_t i1) {
            for (std::size_t i = i0; i < i1; ++i) a[i] = b[i] + 3.0f * c[i];
        });
    });
    const double bw = 3.0 * nf * 4 / triad.min_s / 1e9;
    std::printf("triad bandwidth: %.1f GB/s (best), %.1f GB/s (median)\n", bw, 3.0 * nf * 4 / triad.median_s / 1e9);

    const std::vector<k::fast::isa> isas = [] {
        std::vector<k::fast::isa> v;
        for (auto i : {k::fast::isa::scalar, k::fast::isa::avx2, k::fast::isa::avx512, k::fast::isa::amx})
            if (k::fast::isa_supported(i)) v.push_back(i);
        return v;
    }();

    auto run_matmul = [&](const char* what, k::weight_format fmt, int64_t rows, int64_t n, int64_t kd, bool with_ref) {
        auto w = make_weights(fmt, n, kd);
        std::vector<float> x(static_cast<std::size_t>(rows * kd), 0.01f), y(static_cast<std::size_t>(rows * n));
        const double bytes = static_cast<double>(w.data.size() + w.scale.size());
        const double flops = 2.0 * rows * n * kd;
        auto report = [&](const char* impl, stats s) {
            std::printf("%-8s %-20s rows %4lld  N %5lld K %5lld  %-14s min %8.3f ms  median %8.3f ms  %7.2f GFLOP/s  "
                        "%6.1f GB/s weights (%5.1f%% of triad)\n",
                        what, fmt_name(fmt), static_cast<long long>(rows), static_cast<long long>(n),
                        static_cast<long long>(kd), impl, s.min_s * 1e3, s.median_s * 1e3, flops / s.min_s / 1e9,
                        bytes / s.min_s / 1e9, 100.0 * bytes / s.min_s / 1e9 / bw);
        };
        if (with_ref) {
            report("reference", time_it(std::max(1, reps / 3), [&] {
                       k::matmul<float>(ex, x.data(), rows, kd, w.view, y.data(), n, 1.0);
                   }));
        }
        for (auto i : isas) {
            if (!with_ref && i == k::fast::isa::scalar) continue;  // minutes per call at prefill sizes
            k::fast::select_isa(i);
            report(k::fast::isa_name(i), time_it(reps, [&] { k::fast::matmul(ex, x.data(), rows, kd, w.view, y.data(), n, 1.0); }));
        }
        k::fast::select_isa(k::fast::detect_isa());
    };
    // Prefill's MoE products: at 128 prompt tokens a V3 expert (top 8 of 64) takes 16 rows on
    // average, so its products run at a few to a few dozen rows. 96 FP8 experts of each shape (48 MiB
    // a shape, beyond the LLC) taken in turn, so each is read from memory once per product, as in a
    // prefill chunk: gate/up (512 x 1024) and down (1024 x 512).
    if (only == "prefill" || only.empty()) {
        const int64_t n_experts = 96;
        for (const auto& [n, kd] : {std::pair<int64_t, int64_t>{512, 1024}, std::pair<int64_t, int64_t>{1024, 512}}) {
            std::vector<weights> mats;
            for (int64_t e = 0; e < n_experts; ++e) mats.push_back(make_weights(k::weight_format::e4m3, n, kd));
            for (const int64_t rows : {8, 12, 16, 17, 20, 24, 32, 48}) {
                std::vector<float> x(static_cast<std::size_t>(rows * kd), 0.01f), y(static_cast<std::size_t>(rows * n));
                const stats s = time_it(reps, [&] {
                    for (const auto& m : mats) k::fast::matmul(ex, x.data(), rows, kd, m.view, y.data(), n, 1.0);
                });
                const double per = s.min_s / static_cast<double>(n_experts);
                std::printf("prefill  fp8 experts %4lld x %4lld, %2lld rows, cold: %7.1f us/product  %6.1f GFLOP/s\n",
                            static_cast<long long>(n), static_cast<long long>(kd), static_cast<long long>(rows),
                            per * 1e6, 2.0 * static_cast<double>(rows * n * kd) / per / 1e9);
            }
        }
        if (only == "prefill") return 0;
    }
    // A decode step's MoE products: many short FP8 GEMVs (512 x 1024 and 1024 x 512, 512 KiB each),
    // each called once while cold, one after the other, as a token's experts are. Short products
    // stream worse than one long one: each starts on a miss and ends in a hand-off between threads.
    {
        const int64_t n_experts = 64;  // x 3 matrices x 512 KiB = 96 MiB, beyond the LLC
        std::vector<weights> mats;
        for (int64_t e = 0; e < n_experts; ++e) {
            mats.push_back(make_weights(k::weight_format::e4m3, 512, 1024));
            mats.push_back(make_weights(k::weight_format::e4m3, 512, 1024));
            mats.push_back(make_weights(k::weight_format::e4m3, 1024, 512));
        }
        std::vector<float> x(1024, 0.01f), y(1024);
        double bytes = 0;
        for (const auto& m : mats) bytes += static_cast<double>(m.data.size() + m.scale.size());
        const stats s = time_it(reps, [&] {
            for (const auto& m : mats) k::fast::matmul(ex, x.data(), 1, m.view.k, m.view, y.data(), m.view.n, 1.0);
        });
        std::printf(
            "experts  fp8 GEMV chain, %zu products of 512 KiB: min %8.3f ms  median %8.3f ms  %6.1f us/product  "
            "%6.1f GB/s (%5.1f%% of triad)\n",
            mats.size(), s.min_s * 1e3, s.median_s * 1e3, s.min_s * 1e6 / static_cast<double>(mats.size()),
            bytes / s.min_s / 1e9, 100.0 * bytes / s.min_s / 1e9 / bw);
    }
    // MLA's absorbed per-head products of a decode step as the CPU backend runs them: per layer, the
    // heads' W_UK^T (256 x 128 FP8: the query's nope part into the latent) side by side, later their
    // W_UV (128 x 256). 8 heads, 160 layers' worth (10 MiB), taken in turn so that each is cold.
    {
        const int64_t heads = 8, layers = 160, latent = 256, nope = 128;
        std::vector<weights> uk, uv;
        for (int64_t i = 0; i < heads * layers; ++i) {
            uk.push_back(make_weights(k::weight_format::e4m3, latent, nope));
            uv.push_back(make_weights(k::weight_format::e4m3, nope, latent));
        }
        std::vector<float> q(static_cast<std::size_t>(heads * nope), 0.01f),
            lat(static_cast<std::size_t>(heads * latent), 0.01f), out(static_cast<std::size_t>(heads * latent));
        double bytes = 0;
        for (const auto& w : uk) bytes += static_cast<double>(w.data.size() + w.scale.size());
        for (const auto& w : uv) bytes += static_cast<double>(w.data.size() + w.scale.size());
        std::vector<k::fast::matmul_item> items(static_cast<std::size_t>(heads));
        const auto run = [&](bool warm) {
            for (int64_t l = 0; l < layers; ++l) {
                for (const bool absorb : {true, false}) {
                    for (int64_t h = 0; h < heads; ++h) {
                        const weights& w = (absorb ? uk : uv)[static_cast<std::size_t>((warm ? 0 : l) * heads + h)];
                        const int64_t kd = absorb ? nope : latent, n = absorb ? latent : nope;
                        items[static_cast<std::size_t>(h)] = {
                            (absorb ? q.data() : lat.data()) + h * kd, 1, kd, w.view, out.data() + h * n, n, 1.0};
                    }
                    k::fast::matmul_side_by_side(ex, items.data(), items.size());
                }
            }
        };
        const double products = static_cast<double>(2 * heads * layers);
        for (const bool warm : {false, true}) {
            if (only == "mla-warm" && !warm) continue;
            const stats s = time_it(reps, [&] { run(warm); });
            std::printf(
                "mla      fp8 per-head products side by side, %s, %.0f of 32 KiB: %6.2f us/product  %6.1f "
                "GB/s (%5.1f%% of triad)\n",
                warm ? "warm" : "cold", products, s.min_s * 1e6 / products, bytes / s.min_s / 1e9,
                100.0 * bytes / s.min_s / 1e9 / bw);
        }
    }
    if (only == "mla-warm") return 0;
    // A decode step's routed experts as the CPU backend runs them: gate and up (512 x 1024) of
    // top_k experts side by side, then their down products (1024 x 512). V4: FP4 e2m1, 6 experts;
    // V3: FP8 e4m3 (128 x 128 blocks), 8 experts. 96 experts (78-144 MiB) taken top_k at a time in
    // turn, so each is cold. Activations as V4 gives them (FP8-rounded, bf16 values: FP4's bf16
    // dot products) and as float32 (act-quant off: the float32 kernel); "warm" runs one expert's
    // three matrices for all top_k (within a core's L2): what the arithmetic and the driver cost
    // without the memory.
    const auto moe_step_bench = [&](const char* label, k::weight_format fmt, int64_t top_k) {
        const int64_t n_experts = 96;
        std::vector<weights> gate, up, down;
        for (int64_t e = 0; e < n_experts; ++e) {
            gate.push_back(make_weights(fmt, 512, 1024));
            up.push_back(make_weights(fmt, 512, 1024));
            down.push_back(make_weights(fmt, 1024, 512));
        }
        std::mt19937 rng(7);
        std::vector<float> x_fp8(1024), x_f32(1024), h(static_cast<std::size_t>(2 * top_k * 512)),
            y(static_cast<std::size_t>(top_k * 1024));
        for (std::size_t i = 0; i < x_fp8.size(); ++i) {
            x_fp8[i] = k::e4m3_to_f32(static_cast<uint8_t>(rng() & 0xf7)) * 0x1p-4f;  // normal e4m3 values
            x_f32[i] = std::uniform_real_distribution<float>(-1.0f, 1.0f)(rng);
        }
        std::vector<float> h_fp8(h.size());
        for (std::size_t i = 0; i < h_fp8.size(); ++i) h_fp8[i] = x_fp8[i % x_fp8.size()];
        const auto step = [&](int64_t first, const std::vector<float>& x, const std::vector<float>& hx) {
            std::vector<k::fast::matmul_item> items;
            for (int64_t j = 0; j < top_k; ++j) {
                const int64_t e = first < 0 ? 0 : (first + j) % n_experts;  // first < 0: warm
                for (const auto* m : {&gate[e], &up[e]}) {
                    items.push_back({x.data(), 1, 1024, m->view, h.data() + items.size() * 512, 512, 1.0});
                }
            }
            k::fast::matmul_side_by_side(ex, items.data(), items.size());
            items.clear();
            for (int64_t j = 0; j < top_k; ++j) {
                const int64_t e = first < 0 ? 0 : (first + j) % n_experts;  // first < 0: warm
                items.push_back({hx.data() + j * 512, 1, 512, down[e].view, y.data() + j * 1024, 1024, 1.0});
            }
            k::fast::matmul_side_by_side(ex, items.data(), items.size());
        };
        const double step_bytes =
            static_cast<double>(top_k * (gate[0].data.size() + gate[0].scale.size() + up[0].data.size() +
                                         up[0].scale.size() + down[0].data.size() + down[0].scale.size()));
        const int64_t steps = n_experts / top_k;
        for (const bool fp8 : {true, false}) {
            for (const bool warm : {false, true}) {
                const stats s = time_it(reps, [&] {
                    for (int64_t t = 0; t < steps; ++t)
                        step(warm ? -1 : t * top_k, fp8 ? x_fp8 : x_f32, fp8 ? h_fp8 : h);
                });
                std::printf(
                    "%-8s %s experts side by side, %s activations, %-4s: %7.1f us/step  %6.1f GB/s (%5.1f%% of "
                    "triad)\n",
                    label, fmt == k::weight_format::e2m1 ? "fp4" : "fp8", fp8 ? "fp8-rounded" : "float32",
                    warm ? "warm" : "cold", s.min_s * 1e6 / static_cast<double>(steps),
                    step_bytes * static_cast<double>(steps) / s.min_s / 1e9,
                    100.0 * step_bytes * static_cast<double>(steps) / s.min_s / 1e9 / bw);
            }
        }
    };
    moe_step_bench("v4moe", k::weight_format::e2m1, 6);
    moe_step_bench("v3moe", k::weight_format::e4m3, 8);
    // The LM head of a decode step (V3/V4 bench models: 16384 x 1024 BF16, 32 MiB), one product over
    // the pool; 4 heads taken in turn so each is read from memory, next to a read-only sweep of as
    // many bytes (what the head could reach if reading were all it did).
    {
        const int64_t heads = 4, vocab = 16384, dim = 1024;
        std::vector<weights> head;
        for (int64_t i = 0; i < heads; ++i) head.push_back(make_weights(k::weight_format::bf16, vocab, dim));
        std::vector<float> x(dim, 0.01f), y(vocab);
        const stats s = time_it(reps, [&] {
            for (const auto& h : head) k::fast::matmul(ex, x.data(), 1, dim, h.view, y.data(), vocab, 1.0);
        });
        // The CLI bench's read-only sweep, over an array of the heads' size.
        const double read_gbs =
            mneme_cli::bench::measure_bandwidth(pool, static_cast<std::size_t>(heads * vocab * dim * 2), reps).read_gbs;
        const double bytes = static_cast<double>(heads * vocab * dim * 2);
        std::printf(
            "lmhead   bf16 %lld x %lld, one row, cold: %7.1f us/product  %6.1f GB/s; read-only sweep %6.1f GB/s\n",
            static_cast<long long>(vocab), static_cast<long long>(dim), s.min_s * 1e6 / heads, bytes / s.min_s / 1e9,
            read_gbs);
    }
    if (only == "experts") return 0;

    // Decode-shaped GEMV (one token) over weights well beyond the LLC, every format.
    for (auto fmt : {k::weight_format::f32, k::weight_format::bf16, k::weight_format::e4m3, k::weight_format::e2m1}) {
        run_matmul("gemv", fmt, 1, 4096, 7168, true);
    }
    // Prefill-shaped GEMM: 64 and 256 tokens against one FP8 projection; f32 peak.
    run_matmul("gemm", k::weight_format::e4m3, 64, 2048, 7168, true);
    run_matmul("gemm", k::weight_format::e4m3, 256, 2048, 7168, false);
    run_matmul("gemm", k::weight_format::bf16, 256, 2048, 7168, false);
    run_matmul("gemm", k::weight_format::f32, 256, 1024, 4096, false);

    // Attention: one decode query, 128 heads, MLA-absorbed widths (dk 576, dv 512), top-2048 keys of 8192.
    {
        k::attention_args at;
        at.heads = 128;
        at.queries = 1;
        at.dk = 576;
        at.dv = 512;
        at.q_head_stride = 576;
        at.q_stride = 576 * 128;
        at.k_stride = 576;
        at.v_stride = 576;
        at.n_keys = 8192;
        at.out_head_stride = 512;
        at.out_stride = 512 * 128;
        at.scale = 0.04;
        at.start_pos = 8191;
        std::vector<int32_t> idx(2048);
        for (int i = 0; i < 2048; ++i) idx[static_cast<std::size_t>(i)] = i * 4;
        at.indices = idx.data();
        at.n_indices = 2048;
        std::vector<float> q(576 * 128, 0.01f), kv(576 * 8192, 0.02f), o(512 * 128);
        const double flops = 2.0 * 128 * 2048 * (576 + 512);
        auto report = [&](const char* impl, stats s) {
            std::printf("attention 128 heads, 2048 of 8192 keys, dk 576 dv 512  %-14s min %8.3f ms  median %8.3f ms  %6.2f GFLOP/s\n",
                        impl, s.min_s * 1e3, s.median_s * 1e3, flops / s.min_s / 1e9);
        };
        report("reference", time_it(std::max(1, reps / 3), [&] {
                   k::attention<float>(ex, at, q.data(), kv.data(), kv.data(), nullptr, o.data());
               }));
        for (auto i : isas) {
            k::fast::select_isa(i);
            report(k::fast::isa_name(i), time_it(reps, [&] { k::fast::attention(ex, at, q.data(), kv.data(), kv.data(), nullptr, o.data()); }));
        }
    }
    // Indexer scan: 64 heads, d 128, one query over 32768 keys, and 64 queries over 8192 keys.
    for (const auto& shape : {std::pair<int64_t, int64_t>{1, 32768}, {64, 8192}}) {
        const int64_t queries = shape.first, keys = shape.second;  // (lambdas below capture them)
        std::vector<float> q(static_cast<std::size_t>(queries * 64 * 128), 0.01f), w(static_cast<std::size_t>(queries * 64), 0.5f);
        std::vector<float> kk(static_cast<std::size_t>(keys * 128), 0.02f), out(static_cast<std::size_t>(queries * keys));
        const int64_t start = keys - queries;
        const double flops = 2.0 * queries * 64 * 128 * keys;
        auto report = [&](const char* impl, stats s) {
            std::printf("indexer 64 heads d 128, %3lld queries x %5lld keys  %-14s min %8.3f ms  median %8.3f ms  %6.2f GFLOP/s\n",
                        static_cast<long long>(queries), static_cast<long long>(keys), impl, s.min_s * 1e3,
                        s.median_s * 1e3, flops / s.min_s / 1e9);
        };
        report("reference", time_it(std::max(1, reps / 3), [&] {
                   k::indexer_scores<float>(ex, q.data(), w.data(), kk.data(), 128, 64, queries, keys, 128, start, 1, out.data());
               }));
        for (auto i : isas) {
            k::fast::select_isa(i);
            report(k::fast::isa_name(i), time_it(reps, [&] {
                       k::fast::indexer_scores(ex, q.data(), w.data(), kk.data(), 128, 64, queries, keys, 128, start, 1, out.data());
                   }));
        }
    }
    return 0;
}
