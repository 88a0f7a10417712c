// The fast float32 matmul and weight decoding against the reference kernels, for every weight
// format and every instruction set this CPU has, on shapes with tails, primes and single rows.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include "fast-kernels.h"
#include "fast-test-support.h"
#include "mneme_kernels/cpu-ops.h"

namespace {

namespace k = mneme::kernels;
using mneme::test::random_weight;

void check_matmul(mneme::test::pooled_exec& ex, std::mt19937_64& rng, const k::weight_view& w, int64_t rows,
                  double alpha, double rel = 1e-5, int64_t x_stride = 0) {
    if (x_stride == 0) x_stride = w.k + 3;
    const int64_t y_stride = w.n + 2;
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> x(static_cast<std::size_t>(rows * x_stride));
    for (auto& v : x) v = u(rng);
    std::vector<float> ref(static_cast<std::size_t>(rows * y_stride), -7.0f), got = ref;
    k::matmul<float>(ex.ctx, x.data(), rows, x_stride, w, ref.data(), y_stride, alpha);
    k::fast::matmul(ex.ctx, x.data(), rows, x_stride, w, got.data(), y_stride, alpha);
    // Tolerance relative to the magnitude of the products summed (float32 rounding in another order).
    std::vector<float> wrow(static_cast<std::size_t>(w.k));
    for (int64_t n = 0; n < w.n; ++n) {
        k::decode_weight_row<float>(w, n, wrow.data());
        for (int64_t r = 0; r < rows; ++r) {
            double mag = 0;
            for (int64_t i = 0; i < w.k; ++i) mag += std::fabs(double(x[r * x_stride + i]) * wrow[i]);
            const double tol = rel * (1.0 + mag * std::fabs(alpha));
            const float a = ref[r * y_stride + n], b = got[r * y_stride + n];
            INFO("row " << r << " col " << n << " ref " << a << " got " << b << " K " << w.k);
            REQUIRE(std::fabs(double(a) - b) <= tol);
        }
        for (int64_t r = 0; r < rows; ++r) {  // padding between rows is untouched
            for (int64_t p = w.n; p < y_stride; ++p) REQUIRE(got[r * y_stride + p] == -7.0f);
        }
    }
}

const char* format_name(k::weight_format f) {
    switch (f) {
        case k::weight_format::f32: return "f32";
        case k::weight_format::f64: return "f64";
        case k::weight_format::bf16: return "bf16";
        case k::weight_format::f16: return "f16";
        case k::weight_format::e4m3: return "e4m3";
        case k::weight_format::e2m1: return "e2m1";
    }
    return "?";
}

}  // namespace

TEST_CASE("fast matmul equals the reference for every format, shape and instruction set", "[fast][matmul]") {
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(20261129);
    const k::weight_format formats[] = {k::weight_format::f32,  k::weight_format::f64, k::weight_format::bf16,
                                        k::weight_format::f16,  k::weight_format::e4m3, k::weight_format::e2m1};
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        for (auto fmt : formats) {
            for (int64_t kdim : {1, 2, 13, 16, 31, 64, 129, 300}) {
                for (int64_t n : {1, 5, 16, 37}) {
                    for (int64_t rows : {1, 3, 4, 7}) {
                        INFO("isa " << k::fast::isa_name(isa) << " format " << format_name(fmt) << " K " << kdim
                                    << " N " << n << " rows " << rows);
                        auto w = random_weight(rng, fmt, n, kdim);
                        check_matmul(ex, rng, w.view, rows, rows == 3 ? 0.37 : 1.0);
                    }
                }
            }
        }
    });
}

TEST_CASE("fast matmul applies block scales like the reference", "[fast][matmul]") {
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(7);
    struct scaled {
        k::weight_format fmt;
        k::scale_format sfmt;
        int64_t block_n, block_k;
    };
    const scaled cases[] = {
        {k::weight_format::e4m3, k::scale_format::f32, 128, 128},  // V3 FP8 weights
        {k::weight_format::e4m3, k::scale_format::e8m0, 128, 128},  // V3.2/V4 FP8 weights
        {k::weight_format::e4m3, k::scale_format::f32, 3, 7},       // odd blocks: segments off the vector grid
        {k::weight_format::e2m1, k::scale_format::e8m0, 1, 32},     // V4 FP4 experts
        {k::weight_format::e2m1, k::scale_format::e8m0, 2, 5},      // odd block: odd FP4 starts
        {k::weight_format::bf16, k::scale_format::f32, 4, 16},
        {k::weight_format::f32, k::scale_format::e8m0, 1, 9},
    };
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        for (const auto& c : cases) {
            // (K = 96 gives FP4 rows the decode kernels; at N = 130 each stream converts its scale
            // rows in several batches, the last one partial.)
            for (int64_t kdim : {1, 31, 96, 200, 333}) {
                for (int64_t n : {1, 9, 130}) {
                    for (int64_t rows : {1, 5}) {
                        INFO("isa " << k::fast::isa_name(isa) << " format " << format_name(c.fmt) << " K " << kdim
                                    << " N " << n << " rows " << rows << " blocks " << c.block_n << "x" << c.block_k);
                        auto w = random_weight(rng, c.fmt, n, kdim, c.sfmt, c.block_n, c.block_k, 3);
                        check_matmul(ex, rng, w.view, rows, 1.0);
                    }
                }
            }
        }
    });
}

TEST_CASE("fast matmul splits long rows of many activations without changing the result", "[fast][matmul]") {
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(11);
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        INFO("isa " << k::fast::isa_name(isa));
        // 67 rows x 2053 columns exceed the activation chunk, so K is processed in several passes.
        auto w = random_weight(rng, k::weight_format::e4m3, 45, 2053, k::scale_format::f32, 128, 128);
        check_matmul(ex, rng, w.view, 67, 0.5);
        auto wf = random_weight(rng, k::weight_format::f32, 19, 1601);
        check_matmul(ex, rng, wf.view, 90, 1.0);
    });
}

TEST_CASE("fast weight decoding equals the reference bit for bit, NaN codes included", "[fast][decode]") {
    std::mt19937_64 rng(3);
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        INFO("isa " << k::fast::isa_name(isa));
        // Every e4m3 code (0x7f and 0xff are NaN), then every f16 code, in rows with tails.
        std::vector<uint8_t> codes(256 + 5);
        for (std::size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<uint8_t>(i * 1 + (i >= 256 ? 77 : 0));
        k::weight_view w;
        w.data = codes.data();
        w.format = k::weight_format::e4m3;
        w.n = 1;
        w.k = static_cast<int64_t>(codes.size());
        w.row_bytes = w.k;
        std::vector<uint16_t> halves(65536 + 3);
        for (std::size_t i = 0; i < halves.size(); ++i) halves[i] = static_cast<uint16_t>(i);
        k::weight_view h;
        h.data = reinterpret_cast<const uint8_t*>(halves.data());
        h.format = k::weight_format::f16;
        h.n = 1;
        h.k = static_cast<int64_t>(halves.size());
        h.row_bytes = 2 * h.k;
        // Every finite e4m3 code twice over (the 32-wide path needs a row without NaN codes), then
        // block scales whose products round, go subnormal, or overflow to infinity.
        std::vector<uint8_t> finite;
        for (int rep = 0; rep < 2; ++rep) {
            for (int c = 0; c < 256; ++c) {
                if ((c & 0x7f) != 0x7f) finite.push_back(static_cast<uint8_t>(c));
            }
        }
        finite.resize(finite.size() + 7, 0x3a);
        const std::vector<float> scales{1.0f, 0.3f, 1.7e-38f, 3.1e-41f, 1.0e30f, 7.7e36f, 0x1p101f, -2.5e-3f};
        std::vector<k::weight_view> views{w, h};
        for (std::size_t i = 0; i < scales.size(); ++i) {
            k::weight_view f = w;
            f.data = finite.data();
            f.k = static_cast<int64_t>(finite.size());
            f.row_bytes = f.k;
            f.scale = reinterpret_cast<const uint8_t*>(&scales[i]);
            f.scale_fmt = k::scale_format::f32;
            f.block_n = 1;
            f.block_k = f.k;
            f.scale_row_elems = 1;
            views.push_back(f);
        }
        std::vector<mneme::test::stored_weight> keep;
        for (auto fmt : {k::weight_format::bf16, k::weight_format::e2m1, k::weight_format::f64}) {
            keep.push_back(random_weight(rng, fmt, 3, 77, k::scale_format::e8m0, 2, 32));
            views.push_back(keep.back().view);
        }
        for (const auto& v : views) {
            std::vector<float> ref(static_cast<std::size_t>(v.k)), got(ref.size());
            for (int64_t n = 0; n < v.n; ++n) {
                k::decode_weight_row<float>(v, n, ref.data());
                k::fast::decode_row(v, n, got.data());
                for (std::size_t i = 0; i < ref.size(); ++i) {
                    INFO("format " << format_name(v.format) << " element " << i);
                    if (std::isnan(ref[i])) {
                        REQUIRE(std::isnan(got[i]));
                    } else {
                        uint32_t a, b;
                        std::memcpy(&a, &ref[i], 4);
                        std::memcpy(&b, &got[i], 4);
                        REQUIRE(a == b);
                    }
                }
            }
        }
    });
}

TEST_CASE("decode products give the same bits with the weight-row prefetch on, off and during its trial",
          "[fast][matmul]") {
    // Large enough to be timed by the trial and split over the pool (600 KiB of FP8; 2 MiB of bf16).
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(43);
    auto fp8 = random_weight(rng, k::weight_format::e4m3, 600, 1024 + 5, k::scale_format::e8m0, 128, 128);
    auto bf16 = random_weight(rng, k::weight_format::bf16, 1031, 1024, k::scale_format::none, 1, 1);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (const auto* w : {&fp8.view, &bf16.view}) {
        for (int64_t rows : {1, 3}) {
            INFO(format_name(w->format) << " rows " << rows);
            std::vector<float> x(static_cast<std::size_t>(rows * w->k));
            for (auto& v : x) v = u(rng);
            const auto product = [&] {
                std::vector<float> y(static_cast<std::size_t>(rows * w->n));
                k::fast::matmul(ex.ctx, x.data(), rows, w->k, *w, y.data(), w->n, 1.0);
                return y;
            };
            k::fast::set_row_prefetch(k::fast::row_prefetch::off);
            CHECK_FALSE(k::fast::row_prefetch_used(w->n * w->row_bytes));
            const std::vector<float> without = product();
            k::fast::set_row_prefetch(k::fast::row_prefetch::on);
            CHECK(k::fast::row_prefetch_used(w->n * w->row_bytes));
            CHECK(std::memcmp(product().data(), without.data(), without.size() * 4) == 0);
            k::fast::set_row_prefetch(k::fast::row_prefetch::probe);  // both arms in turn, then the choice
            for (int i = 0; i < 1000; ++i)
                REQUIRE(std::memcmp(product().data(), without.data(), without.size() * 4) == 0);
            // One-row products of one size class end the trial; others take the choice throughout.
            if (rows == 1) CHECK(k::fast::row_prefetch_summary().find("trial") == std::string::npos);
        }
    }
    k::fast::set_row_prefetch(k::fast::row_prefetch::probe);
}

TEST_CASE("fast matmul of 1-16 activation rows (decode, drafting) on long block-scaled rows", "[fast][matmul]") {
    // Up to 16 rows take the decode-in-registers path (FP8, bf16; f32 keeps the tiled path):
    // V3-sized rows with ragged last blocks, both scale formats, strided activations.
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(19);
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        for (int64_t rows : {1, 2, 3, 4, 5, 8, 11, 16}) {
            INFO("isa " << k::fast::isa_name(isa) << " rows " << rows);
            auto fp8 = random_weight(rng, k::weight_format::e4m3, 37, 7168 + 13, k::scale_format::f32, 128, 128, 5);
            check_matmul(ex, rng, fp8.view, rows, 1.0);
            auto ue8m0 = random_weight(rng, k::weight_format::e4m3, 130, 1029, k::scale_format::e8m0, 128, 128);
            check_matmul(ex, rng, ue8m0.view, rows, 0.25);
            auto bf16 = random_weight(rng, k::weight_format::bf16, 33, 2051, k::scale_format::none, 1, 1, 2);
            check_matmul(ex, rng, bf16.view, rows, 1.0);
            // Whole 128-wide blocks (the unrolled steps), through both e4m3 conversions.
            auto whole = random_weight(rng, k::weight_format::e4m3, 19, 1024, k::scale_format::f32, 128, 128, 1);
            for (auto mode : {k::fast::e4m3_widening::on, k::fast::e4m3_widening::off}) {
                k::fast::set_e4m3_widening(mode);
                check_matmul(ex, rng, whole.view, rows, 1.0);
            }
            k::fast::set_e4m3_widening(k::fast::e4m3_widening::probe);
            auto bf16_block = random_weight(rng, k::weight_format::bf16, 21, 128);
            check_matmul(ex, rng, bf16_block.view, rows, 1.0);
            auto f32 = random_weight(rng, k::weight_format::f32, 17, 1000);
            check_matmul(ex, rng, f32.view, rows, 1.0);
            // FP4 in registers where the instruction set has it (whole 32-code steps): V4's experts
            // (UE8M0 scales per 32), longer scale blocks, no scales; and a row length that is not
            // a whole number of steps, which keeps the decoding path.
            auto fp4 = random_weight(rng, k::weight_format::e2m1, 35, 4096, k::scale_format::e8m0, 1, 32);
            check_matmul(ex, rng, fp4.view, rows, 1.0);
            auto fp4_long = random_weight(rng, k::weight_format::e2m1, 18, 512, k::scale_format::e8m0, 3, 64);
            check_matmul(ex, rng, fp4_long.view, rows, 0.5);
            auto fp4_plain = random_weight(rng, k::weight_format::e2m1, 9, 96);
            check_matmul(ex, rng, fp4_plain.view, rows, 1.0);
            auto fp4_ragged = random_weight(rng, k::weight_format::e2m1, 9, 100, k::scale_format::e8m0, 1, 32);
            check_matmul(ex, rng, fp4_ragged.view, rows, 1.0);
        }
        const bool fp4_in_registers = isa != k::fast::isa::scalar;
        auto small_fp4 = random_weight(rng, k::weight_format::e2m1, 64, 256, k::scale_format::e8m0, 1, 32);
        CHECK(k::fast::matmul_on_one_thread(1, small_fp4.view) == fp4_in_registers);
        auto ragged_fp4 = random_weight(rng, k::weight_format::e2m1, 64, 250, k::scale_format::e8m0, 1, 32);
        CHECK_FALSE(k::fast::matmul_on_one_thread(1, ragged_fp4.view));
    });
}

TEST_CASE("fast matmul computes each of up to 16 activation rows exactly as if it were alone", "[fast][matmul]") {
    // n-gram drafting verifies up to 16 tokens in one pass and must reproduce token-by-token
    // decoding bit for bit, so a row's result may not depend on how many rows share the call.
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(29);
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        auto fp8 = random_weight(rng, k::weight_format::e4m3, 41, 1029, k::scale_format::f32, 128, 128, 3);
        auto bf16 = random_weight(rng, k::weight_format::bf16, 19, 515);
        // Long rows: with more activation rows than one dot call takes, weight rows are taken in
        // steps (matmul-fast.cpp); scale rows of 3 weight rows end steps early.
        auto fp8_steps = random_weight(rng, k::weight_format::e4m3, 150, 2055, k::scale_format::f32, 3, 128, 3);
        auto bf16_steps = random_weight(rng, k::weight_format::bf16, 37, 3001);
        auto fp4 = random_weight(rng, k::weight_format::e2m1, 43, 2048, k::scale_format::e8m0, 1, 32);
        auto f32 = random_weight(rng, k::weight_format::f32, 24, 4096 + 7);  // mHC's mixes, a ragged tail
        for (const auto* w : {&fp8.view, &bf16.view, &fp8_steps.view, &bf16_steps.view, &fp4.view, &f32.view}) {
            std::uniform_real_distribution<float> u(-1.0f, 1.0f);
            const int64_t rows = 16;
            std::vector<float> x(static_cast<std::size_t>(rows * w->k));
            for (auto& v : x) v = u(rng);
            std::vector<float> alone(static_cast<std::size_t>(rows * w->n));
            for (int64_t r = 0; r < rows; ++r) {
                k::fast::matmul(ex.ctx, x.data() + r * w->k, 1, w->k, *w, alone.data() + r * w->n, w->n, 0.5);
            }
            for (int64_t count : {2, 3, 4, 5, 7, 8, 9, 13, 16}) {
                INFO("isa " << k::fast::isa_name(isa) << " format " << format_name(w->format) << " K " << w->k
                            << " rows " << count);
                std::vector<float> together(static_cast<std::size_t>(count * w->n));
                k::fast::matmul(ex.ctx, x.data(), count, w->k, *w, together.data(), w->n, 0.5);
                REQUIRE(std::memcmp(together.data(), alone.data(), together.size() * sizeof(float)) == 0);
            }
        }
    });
}

TEST_CASE("products run side by side equal the same products run one at a time", "[fast][matmul]") {
    // The CPU backend runs consecutive small independent products (MLA's per-head ones) one per
    // thread; each output must be exactly what matmul gives.
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(31);
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        std::vector<mneme::test::stored_weight> ws;
        ws.push_back(random_weight(rng, k::weight_format::e4m3, 256, 128, k::scale_format::f32, 128, 128));
        ws.push_back(random_weight(rng, k::weight_format::e4m3, 131, 257, k::scale_format::f32, 128, 128, 3));
        ws.push_back(random_weight(rng, k::weight_format::bf16, 1, 97));
        ws.push_back(random_weight(rng, k::weight_format::e4m3, 17, 1, k::scale_format::f32, 5, 1));
        ws.push_back(random_weight(rng, k::weight_format::bf16, 61, 129));
        for (const int64_t rows : {1, 3, 16}) {
            std::uniform_real_distribution<float> u(-1.0f, 1.0f);
            std::vector<std::vector<float>> xs, alone, together;
            std::vector<k::fast::matmul_item> items;
            for (const auto& w : ws) {
                CHECK(k::fast::matmul_on_one_thread(rows, w.view) == (isa != k::fast::isa::scalar));
                xs.emplace_back(static_cast<std::size_t>(rows * (w.view.k + 2)));
                for (auto& v : xs.back()) v = u(rng);
                alone.emplace_back(static_cast<std::size_t>(rows * (w.view.n + 1)), -7.0f);
                together.push_back(alone.back());
                k::fast::matmul(ex.ctx, xs.back().data(), rows, w.view.k + 2, w.view, alone.back().data(), w.view.n + 1,
                                0.25);
            }
            for (std::size_t i = 0; i < ws.size(); ++i) {
                items.push_back(
                    {xs[i].data(), rows, ws[i].view.k + 2, ws[i].view, together[i].data(), ws[i].view.n + 1, 0.25});
            }
            k::fast::matmul_side_by_side(ex.ctx, items.data(), items.size());
            for (std::size_t i = 0; i < ws.size(); ++i) {
                INFO("isa " << k::fast::isa_name(isa) << " product " << i << " rows " << rows);
                REQUIRE(std::memcmp(together[i].data(), alone[i].data(), alone[i].size() * sizeof(float)) == 0);
            }
        }
    });
    // Products matmul splits across the pool (large weights, prefill-sized rows) are not.
    auto big = random_weight(rng, k::weight_format::e4m3, 2048, 1024, k::scale_format::f32, 128, 128);
    auto small = random_weight(rng, k::weight_format::e4m3, 64, 128, k::scale_format::f32, 128, 128);
    CHECK_FALSE(k::fast::matmul_on_one_thread(1, big.view));
    CHECK(k::fast::matmul_on_one_thread(16, small.view));
    CHECK_FALSE(k::fast::matmul_on_one_thread(17, small.view));
}

TEST_CASE("FP8 decode products read widened weights exactly as float16-converted ones", "[fast][matmul]") {
    // On AVX-512 a call whose activations all stay below 2^16 takes e4m3 codes to float32 by their
    // bits alone (activations times 2^112); a call holding a larger activation keeps the float16
    // conversion. Both must give every row the same bits, or drafting's verify passes would drift
    // from decoding. A row's result alone (widened) against the same row beside a large one.
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(31);
    k::fast::set_e4m3_widening(k::fast::e4m3_widening::on);  // also where subnormal inputs are slow
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        for (const int64_t kdim : {int64_t{1024}, int64_t{300}, int64_t{7168 + 13}}) {
            INFO("isa " << k::fast::isa_name(isa) << " K " << kdim);
            auto w = random_weight(rng, k::weight_format::e4m3, 29, kdim, k::scale_format::f32, 128, 128, 3);
            std::uniform_real_distribution<float> u(-1.0f, 1.0f);
            std::vector<float> x(static_cast<std::size_t>(2 * kdim));
            for (auto& v : x) v = u(rng);
            x[5] = 0x1p-140f;       // a subnormal activation
            x[7] = 60000.0f;        // just below the widening limit
            x[kdim + 3] = 0x1p17f;  // the second row is too large to widen
            std::vector<float> alone(static_cast<std::size_t>(w.view.n)), pair(static_cast<std::size_t>(2 * w.view.n));
            k::fast::matmul(ex.ctx, x.data(), 1, kdim, w.view, alone.data(), w.view.n, 1.0);
            k::fast::matmul(ex.ctx, x.data(), 2, kdim, w.view, pair.data(), w.view.n, 1.0);
            REQUIRE(std::memcmp(alone.data(), pair.data(), alone.size() * sizeof(float)) == 0);
            // And the large row itself is right.
            std::vector<float> ref(pair.size());
            k::matmul<float>(ex.ctx, x.data(), 2, kdim, w.view, ref.data(), w.view.n, 1.0);
            std::vector<float> wrow(static_cast<std::size_t>(kdim));
            for (int64_t n = 0; n < w.view.n; ++n) {
                k::decode_weight_row<float>(w.view, n, wrow.data());
                for (int64_t r = 0; r < 2; ++r) {
                    double mag = 0;
                    for (int64_t i = 0; i < kdim; ++i) mag += std::fabs(double(x[r * kdim + i]) * wrow[i]);
                    const std::size_t at = static_cast<std::size_t>(r * w.view.n + n);
                    REQUIRE(std::fabs(double(ref[at]) - pair[at]) <= 1e-5 * (1.0 + mag));
                }
            }
        }
    });
    k::fast::set_e4m3_widening(k::fast::e4m3_widening::probe);
}

#if defined(__x86_64__)
TEST_CASE("FP8 decode products keep subnormal weights when the thread treats subnormal inputs as zero",
          "[fast][matmul]") {
    // An application may set MXCSR.DAZ in its threads. Widened e4m3 subnormals are float32
    // subnormals, which DAZ would read as zero: such threads must keep the float16 conversion.
    std::mt19937_64 rng(37);
    const k::exec_ctx serial;  // the calling thread runs the product, with the MXCSR set below
    const unsigned saved = _mm_getcsr();
    k::fast::set_e4m3_widening(k::fast::e4m3_widening::on);
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        INFO("isa " << k::fast::isa_name(isa));
        auto w = random_weight(rng, k::weight_format::e4m3, 16, 512, k::scale_format::f32, 128, 128);
        for (auto& b : w.data) b &= 0x87;  // every code subnormal (or zero)
        std::uniform_real_distribution<float> u(0.5f, 1.0f);
        std::vector<float> x(512);
        for (auto& v : x) v = u(rng);
        std::vector<float> ref(16), got(16);
        k::matmul<float>(serial, x.data(), 1, 512, w.view, ref.data(), 16, 1.0);
        _mm_setcsr(saved | 0x40u);
        k::fast::matmul(serial, x.data(), 1, 512, w.view, got.data(), 16, 1.0);
        _mm_setcsr(saved);
        for (int64_t n = 0; n < 16; ++n) {
            INFO("col " << n << " ref " << ref[n] << " got " << got[n]);
            REQUIRE(ref[n] != 0.0f);
            REQUIRE(std::fabs(double(ref[n]) - got[n]) <= 1e-5 * std::fabs(double(ref[n])));
        }
    });
    k::fast::set_e4m3_widening(k::fast::e4m3_widening::probe);
}
#endif

TEST_CASE("one activation row against 1-4 weight rows at once gives each row's one-row dot bit for bit",
          "[fast][matmul]") {
    std::mt19937_64 rng(37);
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        const k::fast::kernel_table& kt = k::fast::active_kernels();
        if (!kt.dot_weight_rows) return;  // decode products then take weight rows one at a time
        // Whole 128-blocks (the unrolled form), a tail of 13, a short row, other block widths.
        for (const auto& [kdim, block_k] :
             {std::pair<int64_t, int64_t>{1024, 128}, {512 + 13, 128}, {29, 128}, {384, 64}, {97, 7}}) {
            for (const auto fmt : {k::weight_format::e4m3, k::weight_format::bf16}) {
                const bool fp8 = fmt == k::weight_format::e4m3;
                const int64_t kb = (kdim + block_k - 1) / block_k;
                // Rows far apart, as the streams of a product hand them over, each with its own scales.
                auto w = fp8 ? random_weight(rng, fmt, 9, kdim, k::scale_format::f32, 1, block_k, 5)
                             : random_weight(rng, fmt, 9, kdim, k::scale_format::none, 1, 1, 6);
                const uint8_t* rows[4];
                std::vector<float> scales(static_cast<std::size_t>(4 * kb), 1.0f);
                const float* row_scales[4];
                for (int j = 0; j < 4; ++j) {
                    rows[j] = w.data.data() + (8 - 2 * j) * w.view.row_bytes;
                    row_scales[j] = scales.data() + j * kb;
                    if (!fp8) continue;
                    for (int64_t b = 0; b < kb; ++b) {
                        scales[static_cast<std::size_t>(j * kb + b)] =
                            std::ldexp(1.0f, static_cast<int>(rng() % 9) - 12);
                    }
                }
                std::uniform_real_distribution<float> u(-2.0f, 2.0f);
                std::vector<float> x(static_cast<std::size_t>(kdim)), x_wide(x.size());
                for (auto& v : x) v = u(rng);
                x[static_cast<std::size_t>(kdim / 2)] = 0x1p-140f;  // a subnormal activation
                for (std::size_t i = 0; i < x.size(); ++i) x_wide[i] = x[i] * k::fast::k_e4m3_wide_unit;
                const int64_t bk = fp8 ? block_k : kdim;
                for (const bool wide : {false, true}) {
                    if (wide && (!fp8 || !kt.dot_e4m3_wide)) continue;
                    const float* xs = wide ? x_wide.data() : x.data();
                    for (int64_t count = 1; count <= 4; ++count) {
                        INFO("isa " << k::fast::isa_name(isa) << " format " << format_name(fmt) << " K " << kdim
                                    << " block " << block_k << (wide ? " widened" : "") << " rows " << count);
                        float together[4], alone[4];
                        REQUIRE(kt.dot_weight_rows(fmt, wide, xs, rows, count, kdim, row_scales, bk, together, false));
                        for (int64_t j = 0; j < count; ++j) {
                            REQUIRE((
                                wide ? kt.dot_e4m3_wide(xs, kdim, 1, rows[j], kdim, row_scales[j], bk, alone + j, false)
                                     : kt.dot(fmt, xs, kdim, 1, rows[j], kdim, row_scales[j], bk, alone + j, false)));
                        }
                        REQUIRE(std::memcmp(together, alone, static_cast<std::size_t>(count) * sizeof(float)) == 0);
                    }
                }
                if (fp8) {  // a NaN code in the last row: nothing computed, the caller takes each row alone
                    w.data[static_cast<std::size_t>(2 * w.view.row_bytes + kdim - 1)] = 0xff;  // rows[3]
                    float out[4] = {-7.0f, -7.0f, -7.0f, -7.0f};
                    CHECK_FALSE(kt.dot_weight_rows(fmt, false, x.data(), rows, 4, kdim, row_scales, bk, out, false));
                    CHECK(out[0] == -7.0f);
                    CHECK(kt.dot_weight_rows(fmt, false, x.data(), rows, 3, kdim, row_scales, bk, out, false));
                }
            }
        }
        // FP4 where dot takes it: whole 32-code steps, a scale row per weight row (V4's experts),
        // and blocks of 64.
        for (const auto& [kdim, block_k] : {std::pair<int64_t, int64_t>{2048, 32}, {96, 32}, {256, 64}}) {
            auto w = random_weight(rng, k::weight_format::e2m1, 4, kdim, k::scale_format::f32, 1, block_k);
            const int64_t kb = kdim / block_k;
            const uint8_t* rows[4];
            const float* row_scales[4];
            std::vector<float> scales(static_cast<std::size_t>(4 * kb));
            for (auto& v : scales) v = std::ldexp(1.0f, static_cast<int>(rng() % 9) - 4);
            for (int j = 0; j < 4; ++j) {
                rows[j] = w.data.data() + (3 - j) * w.view.row_bytes;
                row_scales[j] = scales.data() + j * kb;
            }
            std::uniform_real_distribution<float> u(-2.0f, 2.0f);
            std::vector<float> x(static_cast<std::size_t>(kdim)), xd = x;
            for (auto& v : x) v = u(rng);
            // The kernels take FP4 rows' activations in their own order.
            if (kt.e2m1_x_layout) {
                kt.e2m1_x_layout(x.data(), kdim, xd.data());
            } else {
                xd = x;
            }
            for (int64_t count = 1; count <= 4; ++count) {
                INFO("isa " << k::fast::isa_name(isa) << " e2m1 K " << kdim << " block " << block_k << " rows "
                            << count);
                float together[4], alone[4];
                const bool taken = kt.dot_weight_rows(k::weight_format::e2m1, false, xd.data(), rows, count, kdim,
                                                      row_scales, block_k, together, true);
                REQUIRE(taken == kt.dot_e2m1);
                if (!taken) continue;
                for (int64_t j = 0; j < count; ++j) {
                    REQUIRE(kt.dot(k::weight_format::e2m1, xd.data(), kdim, 1, rows[j], kdim, row_scales[j], block_k,
                                   alone + j, true));
                    // ... and that is the row's product with x, decoded code by code.
                    double want = 0, mag = 0;
                    for (int64_t i = 0; i < kdim; ++i) {
                        const uint8_t b = rows[j][i / 2];
                        const double wv =
                            double(k::k_e2m1_values[(i % 2) ? b >> 4 : b & 15]) * row_scales[j][i / block_k];
                        want += double(x[i]) * wv;
                        mag += std::fabs(double(x[i]) * wv);
                    }
                    REQUIRE(std::fabs(double(alone[j]) - want) <= 1e-5 * (1.0 + mag));
                }
                REQUIRE(std::memcmp(together, alone, static_cast<std::size_t>(count) * sizeof(float)) == 0);
            }
        }
        float out[4];
        const std::vector<uint8_t> codes(64, 0x11);
        const uint8_t* some_rows[5] = {codes.data(), codes.data(), codes.data(), codes.data(), codes.data()};
        const float one = 1.0f;
        const float* one_scales[5] = {&one, &one, &one, &one, &one};
        // FP4 rows that are not whole 32-code steps, five rows, float16 rows: nothing computed.
        CHECK_FALSE(
            kt.dot_weight_rows(k::weight_format::e2m1, false, &one, some_rows, 2, 48, one_scales, 48, out, true));
        CHECK_FALSE(
            kt.dot_weight_rows(k::weight_format::e4m3, false, &one, some_rows, 5, 16, one_scales, 16, out, true));
        CHECK_FALSE(
            kt.dot_weight_rows(k::weight_format::f16, false, &one, some_rows, 2, 16, one_scales, 16, out, true));
    });
}

namespace {

// Activations as V4's routed experts take them, FP8-rounded: at most 4 significant bits times a
// power of two, so bf16 values exactly.
std::vector<float> fp8_like_activations(std::mt19937_64& rng, std::size_t n) {
    std::vector<float> x(n);
    for (auto& v : x)
        v = static_cast<float>(static_cast<int>(rng() % 31) - 15) * std::ldexp(1.0f, static_cast<int>(rng() % 24) - 20);
    return x;
}

}  // namespace

TEST_CASE("a decoding product's row streams walked by the kernel give each row's one-row dot bit for bit",
          "[fast][matmul]") {
    std::mt19937_64 rng(41);
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        const k::fast::kernel_table& kt = k::fast::active_kernels();
        if (!kt.dot_row_streams) return;  // the caller then walks the streams itself
        // Streams 15 rows apart over 61 rows; results spaced the same. Each stream's rows share a
        // scale row (scale_step 0) or have one each (scale_step = blocks per row, as FP4 experts).
        const auto check =
            [&](const char* what, const std::vector<uint8_t>& data, int64_t row_bytes, const std::vector<float>& scales,
                int64_t kb, bool per_row,
                const std::function<bool(const k::fast::row_stream*, int, int64_t, int64_t, float)>& walk,
                const std::function<bool(const uint8_t*, const float*, float*)>& alone) {
                for (const int n_streams : {1, 2, 3, 4}) {
                    for (const int64_t rounds : {0, 1, 2, 15}) {
                        for (const float alpha : {1.0f, 0.75f}) {
                            INFO("isa " << k::fast::isa_name(isa) << " " << what << (per_row ? " scale per row" : "")
                                        << " streams " << n_streams << " rounds " << rounds << " alpha " << alpha);
                            std::vector<float> out(static_cast<std::size_t>(4 * 15), -7.0f);
                            k::fast::row_stream rs[4];
                            for (int st = 0; st < n_streams; ++st) {
                                rs[st] = {data.data() + st * 15 * row_bytes,
                                          scales.data() + (per_row ? st * 15 : st) * kb, out.data() + st * 15,
                                          61 - st * 15 - rounds};
                            }
                            REQUIRE(walk(rs, n_streams, rounds, per_row ? kb : 0, alpha));
                            for (int st = 0; st < 4; ++st) {
                                for (int64_t i = 0; i < 15; ++i) {
                                    const float got = out[static_cast<std::size_t>(st * 15 + i)];
                                    if (st >= n_streams || i >= rounds) {
                                        CHECK(got == -7.0f);  // nothing written beyond the rounds
                                        continue;
                                    }
                                    float one = 0.0f;
                                    REQUIRE(alone(rs[st].row + i * row_bytes, rs[st].scales + (per_row ? i * kb : 0),
                                                  &one));
                                    if (alpha != 1.0f) one *= alpha;
                                    CHECK(std::memcmp(&got, &one, sizeof(float)) == 0);
                                }
                            }
                        }
                    }
                }
            };
        std::uniform_real_distribution<float> u(-2.0f, 2.0f);
        for (const auto& [kdim, block_k] :
             {std::pair<int64_t, int64_t>{1024, 128}, {256 + 13, 128}, {31, 128}, {97, 7}}) {
            for (const auto fmt : {k::weight_format::e4m3, k::weight_format::bf16}) {
                const bool fp8 = fmt == k::weight_format::e4m3;
                const int64_t kb = (kdim + block_k - 1) / block_k;
                auto w = fp8 ? random_weight(rng, fmt, 61, kdim, k::scale_format::f32, 1, block_k, 3)
                             : random_weight(rng, fmt, 61, kdim, k::scale_format::none, 1, 1, 2);
                std::vector<float> scales(static_cast<std::size_t>(61 * kb), 1.0f);
                if (fp8) {
                    for (auto& v : scales) v = std::ldexp(1.0f, static_cast<int>(rng() % 9) - 12);
                }
                std::vector<float> x(static_cast<std::size_t>(kdim)), x_wide(x.size());
                for (auto& v : x) v = u(rng);
                for (std::size_t i = 0; i < x.size(); ++i) x_wide[i] = x[i] * k::fast::k_e4m3_wide_unit;
                const int64_t bk = fp8 ? block_k : kdim;
                for (const bool wide : {false, true}) {
                    if (wide && (!fp8 || !kt.dot_e4m3_wide)) continue;
                    const float* xs = wide ? x_wide.data() : x.data();
                    const std::string what = std::string(format_name(fmt)) + " K " + std::to_string(kdim) + " block " +
                                             std::to_string(block_k) + (wide ? " widened" : "");
                    for (const bool per_row : {false, true}) {
                        check(
                            what.c_str(), w.data, w.view.row_bytes, scales, fp8 ? kb : 1, per_row && fp8,
                            [&](const k::fast::row_stream* rs, int n, int64_t rounds, int64_t step, float alpha) {
                                return kt.dot_row_streams(fmt, wide, xs, rs, n, rounds, w.view.row_bytes, step,
                                                          rounds % 2 ? 0 : 2, kdim, bk, alpha);
                            },
                            [&](const uint8_t* row, const float* sc, float* one) {
                                return wide ? kt.dot_e4m3_wide(xs, kdim, 1, row, kdim, sc, bk, one, true)
                                            : kt.dot(fmt, xs, kdim, 1, row, kdim, sc, bk, one, true);
                            });
                    }
                }
            }
        }
        // FP4 with a scale row per weight row (V4's experts), float32 and (where the CPU has them)
        // bf16 activations, laid out as the kernels take them.
        for (const auto& [kdim, block_k] : {std::pair<int64_t, int64_t>{1024, 32}, {96, 32}, {256, 64}}) {
            auto w = random_weight(rng, k::weight_format::e2m1, 61, kdim, k::scale_format::f32, 1, block_k);
            const int64_t kb = kdim / block_k;
            std::vector<float> scales(static_cast<std::size_t>(61 * kb));
            for (auto& v : scales) v = std::ldexp(1.0f, static_cast<int>(rng() % 9) - 4);
            std::vector<float> x(static_cast<std::size_t>(kdim)), xd = x;
            for (auto& v : x) v = k::e4m3_to_f32(static_cast<uint8_t>(rng() % 0x7e));  // bf16-exact values
            if (kt.e2m1_x_layout)
                kt.e2m1_x_layout(x.data(), kdim, xd.data());
            else
                xd = x;
            const std::string what = "e2m1 K " + std::to_string(kdim) + " block " + std::to_string(block_k);
            check(
                what.c_str(), w.data, w.view.row_bytes, scales, kb, true,
                [&](const k::fast::row_stream* rs, int n, int64_t rounds, int64_t step, float alpha) {
                    return kt.dot_row_streams(k::weight_format::e2m1, false, xd.data(), rs, n, rounds, w.view.row_bytes,
                                              step, rounds % 2 ? 0 : 2, kdim, block_k, alpha);
                },
                [&](const uint8_t* row, const float* sc, float* one) {
                    return kt.dot(k::weight_format::e2m1, xd.data(), kdim, 1, row, kdim, sc, block_k, one, true);
                });
            if (!kt.e2m1_bf16.dot_row_streams) continue;
            std::vector<uint16_t> xb(static_cast<std::size_t>(kdim));
            REQUIRE(kt.e2m1_bf16.layout(x.data(), kdim, xb.data()));
            check((what + " bf16").c_str(), w.data, w.view.row_bytes, scales, kb, true,
                  [&](const k::fast::row_stream* rs, int n, int64_t rounds, int64_t step, float alpha) {
                      return kt.e2m1_bf16.dot_row_streams(xb.data(), rs, n, rounds, w.view.row_bytes, step,
                                                          rounds % 2 ? 0 : 2, kdim, block_k, alpha);
                  },
                  [&](const uint8_t* row, const float* sc, float* one) {
                      return kt.e2m1_bf16.dot(xb.data(), kdim, 1, row, kdim, sc, block_k, one);
                  });
        }
        // FP8 on bf16 activations (FP8-rounded, as V3.2's and V4's linears take them).
        for (const auto& [kdim, block_k] : {std::pair<int64_t, int64_t>{1024, 128}, {192, 64}, {320, 128}}) {
            if (!kt.e4m3_bf16.dot_row_streams) break;
            const int64_t kb = (kdim + block_k - 1) / block_k;
            auto w = random_weight(rng, k::weight_format::e4m3, 61, kdim, k::scale_format::f32, 1, block_k, 3);
            std::vector<float> scales(static_cast<std::size_t>(61 * kb));
            for (auto& v : scales) v = std::ldexp(1.0f, static_cast<int>(rng() % 9) - 12);
            const auto x = fp8_like_activations(rng, static_cast<std::size_t>(kdim));
            std::vector<uint16_t> xb(static_cast<std::size_t>(kdim));
            REQUIRE(kt.e4m3_bf16.layout(x.data(), kdim, xb.data()));
            const std::string what = "e4m3 bf16 K " + std::to_string(kdim) + " block " + std::to_string(block_k);
            for (const bool per_row : {false, true}) {
                check(
                    what.c_str(), w.data, w.view.row_bytes, scales, kb, per_row,
                    [&](const k::fast::row_stream* rs, int n, int64_t rounds, int64_t step, float alpha) {
                        return kt.e4m3_bf16.dot_row_streams(xb.data(), rs, n, rounds, w.view.row_bytes, step,
                                                            rounds % 2 ? 0 : 2, kdim, block_k, alpha);
                    },
                    [&](const uint8_t* row, const float* sc, float* one) {
                        return kt.e4m3_bf16.dot(xb.data(), kdim, 1, row, kdim, sc, block_k, one);
                    });
            }
        }
        float out = 0.0f;  // formats it does not take: nothing computed
        const k::fast::row_stream rs{nullptr, nullptr, &out, 0};
        CHECK_FALSE(kt.dot_row_streams(k::weight_format::f32, false, nullptr, &rs, 1, 1, 4, 0, 2, 1, 1, 1.0f));
        CHECK_FALSE(kt.dot_row_streams(k::weight_format::e2m1, false, nullptr, &rs, 1, 1, 8, 0, 2, 17, 32, 1.0f));
        CHECK(out == 0.0f);
    });
}

TEST_CASE("e8m0 scale rows convert like the reference, 0 and 255 included, on every instruction set",
          "[fast][decode]") {
    std::vector<uint8_t> codes(256 + 37);
    for (std::size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<uint8_t>(i * 7 % 256);
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        const k::fast::kernel_table& kt = k::fast::active_kernels();
        REQUIRE(kt.e8m0_scales);
        // Every length up to a few vectors past the last code, so that each tail is taken.
        for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{8}, int64_t{15}, int64_t{16}, int64_t{17}, int64_t{33},
                          static_cast<int64_t>(codes.size())}) {
            std::vector<float> got(static_cast<std::size_t>(n + 1), -7.0f);
            kt.e8m0_scales(codes.data(), n, got.data());
            for (int64_t i = 0; i < n; ++i) {
                INFO("isa " << k::fast::isa_name(isa) << " n " << n << " code " << int(codes[i]));
                const float want = k::e8m0_to_f32(codes[i]);
                if (std::isnan(want)) {
                    REQUIRE(std::isnan(got[i]));
                } else {
                    REQUIRE(got[i] == want);
                }
            }
            REQUIRE(got[n] == -7.0f);  // nothing past n is written
        }
        // Runs of ordinary codes (a batch of FP4 scale rows) take 64 at a time; a 0 or a 255 after
        // the first 64, or in the tail, must still convert as the reference does.
        for (const int64_t special_at : {int64_t{-1}, int64_t{64 + 5}, int64_t{128 + 63}, int64_t{256 + 20}}) {
            for (const uint8_t special : {uint8_t{0}, uint8_t{255}}) {
                std::vector<uint8_t> plain(300);
                for (std::size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<uint8_t>(1 + i * 11 % 254);
                if (special_at >= 0) plain[static_cast<std::size_t>(special_at)] = special;
                std::vector<float> got(plain.size() + 1, -7.0f);
                kt.e8m0_scales(plain.data(), static_cast<int64_t>(plain.size()), got.data());
                for (std::size_t i = 0; i < plain.size(); ++i) {
                    INFO("isa " << k::fast::isa_name(isa) << " special at " << special_at << " code " << int(plain[i]));
                    const float want = k::e8m0_to_f32(plain[i]);
                    if (std::isnan(want)) {
                        REQUIRE(std::isnan(got[i]));
                    } else {
                        REQUIRE(got[i] == want);
                    }
                }
                REQUIRE(got[plain.size()] == -7.0f);
            }
        }
    });
}

TEST_CASE("fast matmul keeps FP8 NaN codes at decode sizes", "[fast][matmul]") {
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(23);
    // (At K = 2000, 12 rows take weight rows in steps; see matmul-fast.cpp.)
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        for (const int64_t kdim : {int64_t{300}, int64_t{2000}}) {
            auto w = random_weight(rng, k::weight_format::e4m3, 6, kdim, k::scale_format::e8m0, 128, 128);
            w.data[static_cast<std::size_t>(2 * w.view.row_bytes + 17)] = 0x7f;        // NaN codes in rows 2 and 4
            w.data[static_cast<std::size_t>(4 * w.view.row_bytes + kdim - 1)] = 0xff;  // (the latter in a tail)
            for (int64_t rows : {1, 4, 7, 12}) {
                INFO("isa " << k::fast::isa_name(isa) << " K " << kdim << " rows " << rows);
                std::uniform_real_distribution<float> u(-1.0f, 1.0f);
                std::vector<float> x(static_cast<std::size_t>(rows * w.view.k));
                for (auto& v : x) v = u(rng);
                std::vector<float> ref(static_cast<std::size_t>(rows * w.view.n)), got(ref.size());
                k::matmul<float>(ex.ctx, x.data(), rows, w.view.k, w.view, ref.data(), w.view.n, 1.0);
                k::fast::matmul(ex.ctx, x.data(), rows, w.view.k, w.view, got.data(), w.view.n, 1.0);
                std::vector<float> wrow(static_cast<std::size_t>(w.view.k));
                for (std::size_t i = 0; i < ref.size(); ++i) {
                    const int64_t r = static_cast<int64_t>(i) / w.view.n, col = static_cast<int64_t>(i) % w.view.n;
                    INFO("output " << i);
                    REQUIRE(std::isnan(ref[i]) == (col == 2 || col == 4));
                    if (std::isnan(ref[i])) {
                        REQUIRE(std::isnan(got[i]));
                        continue;
                    }
                    k::decode_weight_row<float>(w.view, col, wrow.data());
                    double mag = 0;
                    for (int64_t j = 0; j < w.view.k; ++j) mag += std::fabs(double(x[r * w.view.k + j]) * wrow[j]);
                    REQUIRE(std::fabs(double(ref[i]) - got[i]) <= 1e-5 * (1.0 + mag));
                }
            }
        }
    });
}

TEST_CASE("fast matmul of prefill-sized products (packed panels) for every format and tail", "[fast][matmul]") {
    // 8 or more activation rows take the packed-panel kernel where the instruction set has one:
    // row counts leave every micro-tile height as a tail, N leaves partial 32-row panels, K spans
    // several chunks, and block scales put segment starts off the vector grid.
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(29);
    const k::weight_format formats[] = {k::weight_format::f32,  k::weight_format::f64, k::weight_format::bf16,
                                        k::weight_format::f16,  k::weight_format::e4m3, k::weight_format::e2m1};
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        for (auto fmt : formats) {
            for (int64_t rows : {8, 13, 29}) {
                for (int64_t n : {1, 33, 70}) {
                    INFO("isa " << k::fast::isa_name(isa) << " format " << format_name(fmt) << " rows " << rows
                                << " N " << n);
                    auto w = random_weight(rng, fmt, n, 1100, k::scale_format::none, 1, 1, 3);
                    check_matmul(ex, rng, w.view, rows, rows == 13 ? 0.37 : 1.0);
                }
            }
        }
        for (int64_t rows : {130, 300}) {  // narrow products split their rows between work items
            INFO("isa " << k::fast::isa_name(isa) << " narrow, rows " << rows);
            auto w = random_weight(rng, k::weight_format::e4m3, 40, 200, k::scale_format::f32, 128, 128);
            check_matmul(ex, rng, w.view, rows, 0.5);
        }
        for (int64_t rows : {9, 24}) {
            INFO("isa " << k::fast::isa_name(isa) << " scaled, rows " << rows);
            auto fp8 = random_weight(rng, k::weight_format::e4m3, 45, 777, k::scale_format::f32, 128, 128);
            check_matmul(ex, rng, fp8.view, rows, 1.0);
            auto odd = random_weight(rng, k::weight_format::e4m3, 37, 333, k::scale_format::e8m0, 3, 7, 2);
            check_matmul(ex, rng, odd.view, rows, 1.0);
            auto fp4 = random_weight(rng, k::weight_format::e2m1, 40, 250, k::scale_format::e8m0, 1, 32);
            check_matmul(ex, rng, fp4.view, rows, 1.0);
        }
    });
}

TEST_CASE("activation rows a multiple of 4 KiB apart give the same products", "[fast][matmul]") {
    // Such rows share one L1 set, so matmul lays them out apart first (matmul-fast.cpp): the
    // products must not change, decode-sized rows must still each come out as if alone, and the
    // caller's rows are left as they were.
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(4096);
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        auto fp8 = random_weight(rng, k::weight_format::e4m3, 70, 1024, k::scale_format::e8m0, 128, 128);
        auto fp4 = random_weight(rng, k::weight_format::e2m1, 40, 1024, k::scale_format::e8m0, 1, 32);
        auto bf16 = random_weight(rng, k::weight_format::bf16, 33, 1000);
        auto f32 = random_weight(rng, k::weight_format::f32, 35, 1024);
        for (const auto* w : {&fp8.view, &fp4.view, &bf16.view, &f32.view}) {
            const int64_t x_stride = w->k == 1024 ? 1024 : 2048;
            for (const int64_t rows : {2, 5, 12, 16, 17, 40}) {
                INFO("isa " << k::fast::isa_name(isa) << " format " << format_name(w->format) << " K " << w->k
                            << " x stride " << x_stride << " rows " << rows);
                check_matmul(ex, rng, *w, rows, rows == 5 ? 0.5 : 1.0, 1e-5, x_stride);
            }
            if (w->format == k::weight_format::e4m3) {
                // More rows than one copy of them may hold (4 MiB of floats): taken a block at a time.
                auto narrow = random_weight(rng, k::weight_format::e4m3, 9, 1024, k::scale_format::e8m0, 128, 128);
                INFO("isa " << k::fast::isa_name(isa) << " 1100 rows in blocks");
                check_matmul(ex, rng, narrow.view, 1100, 1.0, 1e-5, 1024);
            }
            std::uniform_real_distribution<float> u(-1.0f, 1.0f);
            const int64_t rows = 16;
            std::vector<float> x(static_cast<std::size_t>(rows * x_stride));
            for (auto& v : x) v = u(rng);
            const auto before = x;
            std::vector<float> alone(static_cast<std::size_t>(rows * w->n)), together(alone.size());
            for (int64_t r = 0; r < rows; ++r) {
                k::fast::matmul(ex.ctx, x.data() + r * x_stride, 1, w->k, *w, alone.data() + r * w->n, w->n, 1.0);
            }
            k::fast::matmul(ex.ctx, x.data(), rows, x_stride, *w, together.data(), w->n, 1.0);
            INFO("isa " << k::fast::isa_name(isa) << " format " << format_name(w->format) << " 16 rows together");
            REQUIRE(std::memcmp(together.data(), alone.data(), together.size() * sizeof(float)) == 0);
            REQUIRE(x == before);
        }
    });
}

TEST_CASE("prefill products decode each weight exactly as decode_row does", "[fast][matmul]") {
    // The packed-panel path decodes weights straight into the panel where it can; multiplying the
    // stored weight must then give the same bits as multiplying its decoded float32 copy. (With
    // AMX the stored formats go to the tiles and float32 weights to the panels, so the two sums
    // differ in order; the tile path has its own tests below.)
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(31);
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        if (isa == k::fast::isa::amx) return;
        std::vector<mneme::test::stored_weight> weights;
        weights.push_back(random_weight(rng, k::weight_format::e4m3, 70, 1100, k::scale_format::f32, 128, 128, 3));
        weights.back().data[static_cast<std::size_t>(5 * weights.back().view.row_bytes + 700)] = 0xff;  // a NaN code
        weights.push_back(random_weight(rng, k::weight_format::e4m3, 33, 1029, k::scale_format::e8m0, 128, 128));
        // Rows 16-31 (one half of a panel) meet a block scale too large for the float16 route in
        // their third block only: the half decodes element by element there and in registers elsewhere.
        weights.push_back(random_weight(rng, k::weight_format::e4m3, 64, 520, k::scale_format::f32, 16, 128));
        const float huge = 0x1p101f;
        std::memcpy(weights.back().scale.data() + 4 * (1 * weights.back().view.scale_row_elems + 2), &huge, 4);
        weights.push_back(random_weight(rng, k::weight_format::e2m1, 41, 1000, k::scale_format::e8m0, 1, 32));
        weights.push_back(random_weight(rng, k::weight_format::bf16, 32, 515));
        weights.push_back(random_weight(rng, k::weight_format::f16, 17, 260));
        weights.push_back(random_weight(rng, k::weight_format::e4m3, 37, 333, k::scale_format::e8m0, 3, 7, 2));
        for (const auto& w : weights) {
            const k::weight_view& v = w.view;
            std::vector<float> decoded(static_cast<std::size_t>(v.n * v.k));
            for (int64_t n = 0; n < v.n; ++n) k::fast::decode_row(v, n, decoded.data() + n * v.k);
            k::weight_view f;
            f.data = reinterpret_cast<const uint8_t*>(decoded.data());
            f.format = k::weight_format::f32;
            f.n = v.n;
            f.k = v.k;
            f.row_bytes = 4 * v.k;
            for (int64_t rows : {17, 40}) {
                INFO("isa " << k::fast::isa_name(isa) << " format " << format_name(v.format) << " rows " << rows);
                std::uniform_real_distribution<float> u(-1.0f, 1.0f);
                std::vector<float> x(static_cast<std::size_t>(rows * v.k));
                for (auto& e : x) e = u(rng);
                std::vector<float> stored(static_cast<std::size_t>(rows * v.n)), plain(stored.size());
                k::fast::matmul(ex.ctx, x.data(), rows, v.k, v, stored.data(), v.n, 1.0);
                k::fast::matmul(ex.ctx, x.data(), rows, v.k, f, plain.data(), v.n, 1.0);
                REQUIRE(std::memcmp(stored.data(), plain.data(), stored.size() * sizeof(float)) == 0);
            }
        }
    });
}

TEST_CASE("prefill products on AMX tiles equal the reference for every exact format, scale and tail",
          "[fast][matmul][amx]") {
    // BF16, FP8 and FP4 weights go to the tiles from 17 rows and 128 outputs on: row counts leave
    // 16-row and partial blocks, N partial 32-column panels, K partial 32-element steps and
    // several chunks;
    // e8m0 scales are folded into the weights unless too small or large, float32 scales multiply
    // each block's sums; a row count past one row group (the activation parts kept in L2).
    if (!k::fast::isa_supported(k::fast::isa::amx)) {
        WARN("this CPU has no AMX tiles: the tile path is not run here");
        return;
    }
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(37);
    k::fast::select_isa(k::fast::isa::amx);
    const mneme::test::stored_format shapes[] = {
        {k::weight_format::bf16, k::scale_format::none, 1, 1},
        {k::weight_format::e4m3, k::scale_format::none, 1, 1},
        {k::weight_format::e4m3, k::scale_format::f32, 128, 128},   // V3
        {k::weight_format::e4m3, k::scale_format::e8m0, 128, 128},  // V3.2 / V4, folded
        {k::weight_format::e2m1, k::scale_format::e8m0, 1, 32},     // V4 experts, folded
        {k::weight_format::e4m3, k::scale_format::f32, 16, 64},     // blocks inside a panel
        {k::weight_format::bf16, k::scale_format::f32, 5, 96},
    };
    for (const auto& sh : shapes) {
        for (int64_t rows : {17, 31, 70}) {
            for (int64_t kdim : {1, 33, 300, 1100}) {
                for (int64_t n : {128, 161}) {
                    INFO("format " << format_name(sh.fmt) << " blocks " << sh.block_n << "x" << sh.block_k << " rows "
                                   << rows << " K " << kdim << " N " << n);
                    auto w = random_weight(rng, sh.fmt, n, kdim, sh.sfmt, sh.block_n, sh.block_k, 3);
                    // Tighter than float32 kernels need elsewhere: a lost BF16 part (2^-16) would show.
                    check_matmul(ex, rng, w.view, rows, rows == 31 ? 0.37 : 1.0, 2e-6);
                }
            }
        }
    }
    SECTION("e8m0 scales too small to fold take per-block sums") {
        auto w = random_weight(rng, k::weight_format::e4m3, 130, 400, k::scale_format::e8m0, 128, 128);
        w.scale[0] = 3;    // 2^-124
        w.scale[1] = 200;  // 2^73
        check_matmul(ex, rng, w.view, 20, 1.0);
    }
    SECTION("more rows than one group of activation parts") {
        auto w = random_weight(rng, k::weight_format::e4m3, 130, 600, k::scale_format::f32, 128, 128);
        check_matmul(ex, rng, w.view, 333, 0.5);
    }
    SECTION("NaN codes and non-finite activations reach the outputs they touch") {
        auto w = random_weight(rng, k::weight_format::e4m3, 140, 300, k::scale_format::e8m0, 128, 128);
        w.data[static_cast<std::size_t>(3 * w.view.row_bytes + 31)] = 0x7f;  // column 3
        const int64_t rows = 19;
        std::uniform_real_distribution<float> u(-1.0f, 1.0f);
        std::vector<float> x(static_cast<std::size_t>(rows * w.view.k));
        for (auto& v : x) v = u(rng);
        x[static_cast<std::size_t>(5 * w.view.k + 7)] = std::numeric_limits<float>::infinity();  // row 5
        std::vector<float> ref(static_cast<std::size_t>(rows * w.view.n)), got(ref.size());
        k::matmul<float>(ex.ctx, x.data(), rows, w.view.k, w.view, ref.data(), w.view.n, 1.0);
        k::fast::matmul(ex.ctx, x.data(), rows, w.view.k, w.view, got.data(), w.view.n, 1.0);
        for (std::size_t i = 0; i < ref.size(); ++i) {
            INFO("output " << i << " ref " << ref[i] << " got " << got[i]);
            REQUIRE(std::isnan(ref[i]) == std::isnan(got[i]));
            REQUIRE(std::isinf(ref[i]) == std::isinf(got[i]));
            if (std::isinf(ref[i])) REQUIRE(ref[i] == got[i]);
        }
        REQUIRE(std::isnan(got[3]));
    }
    k::fast::select_isa(k::fast::detect_isa());
}

TEST_CASE("MNEME_CPU_ISA names cap the instruction set without going above it", "[fast][isa]") {
    using k::fast::isa;
    const auto best_up_to = [](isa cap) {
        while (cap != isa::scalar && !k::fast::isa_supported(cap))
            cap = static_cast<isa>(static_cast<uint32_t>(cap) - 1);
        return cap;
    };
    REQUIRE(k::fast::isa_at_most("scalar") == isa::scalar);
    REQUIRE(k::fast::isa_at_most("avx2") == best_up_to(isa::avx2));
    REQUIRE(k::fast::isa_at_most("avx512") == best_up_to(isa::avx512));
    REQUIRE(k::fast::isa_at_most("amx") == k::fast::detect_isa());
    REQUIRE(k::fast::isa_at_most(nullptr) == k::fast::detect_isa());
    REQUIRE(k::fast::isa_at_most("no such set") == k::fast::detect_isa());
}

namespace {

// matmul of 1-16 FP8-rounded activation rows, row 5 of them not BF16: each BF16 row's result is
// xk.dot's on that row (the weight's scales per block of block_k), and any number of the rows
// together give each row's result alone, bit for bit.
void check_bf16_rows_in_matmul(mneme::test::pooled_exec& ex, std::mt19937_64& rng, const k::weight_view& w,
                               const k::fast::bf16_act_kernels& xk, int64_t block_k) {
    const int64_t kdim = w.k, n = w.n, rows = 16;
    auto x = fp8_like_activations(rng, static_cast<std::size_t>(rows * kdim));
    x[static_cast<std::size_t>(5 * kdim + 7)] = 0.1f;  // row 5 is not bf16
    std::vector<float> alone(static_cast<std::size_t>(rows * n));
    for (int64_t r = 0; r < rows; ++r) {
        k::fast::matmul(ex.ctx, x.data() + r * kdim, 1, kdim, w, alone.data() + r * n, n, 1.0);
    }
    std::vector<uint16_t> xb(static_cast<std::size_t>(kdim));
    std::vector<float> scales(static_cast<std::size_t>(kdim / block_k));
    for (int64_t r = 0; r < rows; ++r) {
        if (r == 5) continue;
        REQUIRE(xk.layout(x.data() + r * kdim, kdim, xb.data()));
        for (int64_t j = 0; j < n; ++j) {
            for (int64_t b = 0; b < kdim / block_k; ++b) {
                scales[static_cast<std::size_t>(b)] = k::fast::weight_block_scale(w, j, block_k * b);
            }
            float want = 0;
            REQUIRE(xk.dot(xb.data(), kdim, 1, w.data + j * w.row_bytes, kdim, scales.data(), block_k, &want));
            INFO("row " << r << " weight row " << j);
            REQUIRE(alone[static_cast<std::size_t>(r * n + j)] == want);
        }
    }
    for (const int64_t count : {2, 4, 5, 6, 9, 16}) {  // from 6 rows on, row 5 is among them
        INFO("rows " << count);
        std::vector<float> together(static_cast<std::size_t>(count * n));
        k::fast::matmul(ex.ctx, x.data(), count, kdim, w, together.data(), n, 1.0);
        REQUIRE(std::memcmp(together.data(), alone.data(), together.size() * sizeof(float)) == 0);
    }
}

// sum_i x[i] * W[j, i] for an FP4 or FP8 row with one float scale per block, in float64, and the sum
// of the products' magnitudes (the tolerance's scale).
std::pair<double, double> row_dot(k::weight_format fmt, const float* x, const uint8_t* row, int64_t kdim,
                                  const float* scales, int64_t block_k) {
    double want = 0, mag = 0;
    for (int64_t i = 0; i < kdim; ++i) {
        const double code = fmt == k::weight_format::e2m1
                                ? double(k::k_e2m1_values[(i % 2) ? row[i / 2] >> 4 : row[i / 2] & 15])
                                : double(k::e4m3_to_f32(row[i]));
        const double p = double(x[i]) * code * scales[i / block_k];
        want += p;
        mag += std::fabs(p);
    }
    return {want, mag};
}

// Eight FP4 or FP8 weight rows (taken in reverse order of memory) with power-of-two block scales
// times scale_factor, against eight rows of FP8-rounded activations laid out by xk: each pair's
// xk.dot within 1e-6 of the float64 sum, and the same bits from every wider tile (activation rows
// beside each other, weight rows beside each other, streams walked by the kernel).
void check_bf16_kernels(std::mt19937_64& rng, k::weight_format fmt, int64_t kdim, int64_t block_k,
                        const k::fast::bf16_act_kernels& xk, float scale_factor) {
    INFO("K " << kdim << " block " << block_k);
    auto w = random_weight(rng, fmt, 8, kdim);
    const int64_t kb = (kdim + block_k - 1) / block_k;
    std::vector<float> scales(static_cast<std::size_t>(8 * kb));
    for (auto& v : scales) v = std::ldexp(1.0f, static_cast<int>(rng() % 17) - 8) * scale_factor;
    const uint8_t* rows[8];
    const float* row_scales[8];
    for (int j = 0; j < 8; ++j) {
        rows[j] = w.data.data() + (7 - j) * w.view.row_bytes;
        row_scales[j] = scales.data() + j * kb;
    }
    const auto x = fp8_like_activations(rng, static_cast<std::size_t>(8 * kdim));
    std::vector<uint16_t> xb(x.size());
    for (int r = 0; r < 8; ++r) REQUIRE(xk.layout(x.data() + r * kdim, kdim, xb.data() + r * kdim));
    float alone[8][8];  // [activation row][weight row]
    for (int r = 0; r < 8; ++r) {
        for (int j = 0; j < 8; ++j) {
            REQUIRE(xk.dot(xb.data() + r * kdim, kdim, 1, rows[j], kdim, row_scales[j], block_k, &alone[r][j]));
            const auto [want, mag] = row_dot(fmt, x.data() + r * kdim, rows[j], kdim, row_scales[j], block_k);
            INFO("row " << r << " weight row " << j << " got " << alone[r][j] << " want " << want);
            REQUIRE(std::fabs(double(alone[r][j]) - want) <= 1e-6 * (1.0 + mag));
        }
    }
    for (int64_t count = 2; count <= 8; ++count) {  // activation rows beside each other
        float together[8];
        REQUIRE(xk.dot(xb.data(), kdim, count, rows[count - 1], kdim, row_scales[count - 1], block_k, together));
        for (int64_t r = 0; r < count; ++r) REQUIRE(together[r] == alone[r][count - 1]);
    }
    for (int64_t count = 1; count <= 4; ++count) {  // weight rows beside each other
        float together[4];
        REQUIRE(xk.dot_weight_rows(xb.data(), rows, count, kdim, row_scales, block_k, together));
        for (int64_t j = 0; j < count; ++j) REQUIRE(together[j] == alone[0][j]);
    }
    // Streams walked by the kernel, one round each (longer walks: the row-streams test).
    for (int n_streams = 1; n_streams <= 4; ++n_streams) {
        float out[8];
        k::fast::row_stream rs[4];
        for (int st = 0; st < n_streams; ++st) rs[st] = {rows[2 * st], row_scales[2 * st], out + 2 * st, 0};
        REQUIRE(xk.dot_row_streams(xb.data(), rs, n_streams, 1, w.view.row_bytes, kb, 2, kdim, block_k, 0.5f));
        for (int st = 0; st < n_streams; ++st) REQUIRE(out[2 * st] == alone[0][2 * st] * 0.5f);
    }
}

}  // namespace

TEST_CASE("FP4 products on bf16-exact activations (FP8-rounded, V4's experts) take the bf16 kernels",
          "[fast][matmul]") {
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(41);
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        const k::fast::kernel_table& kt = k::fast::active_kernels();
        INFO("isa " << k::fast::isa_name(isa));
        if (!kt.e2m1_bf16.layout) {
            REQUIRE(kt.e2m1_bf16.dot == nullptr);
            REQUIRE(kt.e2m1_bf16.dot_weight_rows == nullptr);
            return;
        }
        SECTION("the layout: each 128's blocks, half by half, even elements then odd ones; exactness told") {
            for (const int64_t len : {32, 64, 96, 128, 1024 + 32, 1024 + 96}) {
                auto x = fp8_like_activations(rng, static_cast<std::size_t>(len));
                x[0] = -0.0f;
                x[static_cast<std::size_t>(len - 1)] = std::numeric_limits<float>::infinity();
                std::vector<uint16_t> got(static_cast<std::size_t>(len));
                REQUIRE(kt.e2m1_bf16.layout(x.data(), len, got.data()));
                for (int64_t i = 0; i < len; ++i) {
                    // Step c of 128 (or fewer) elements: four vectors of `words`, vector 2h + n holding
                    // in word 8L + q element 32L + 16h + 2q + n (block L's half h, even or odd).
                    const int64_t c = i / 128 * 128, words = 8 * std::min<int64_t>(4, (len - c) / 32);
                    const int64_t v = (i - c) / words, p = (i - c) % words;
                    const int64_t src = c + 32 * (p / 8) + 16 * (v / 2) + 2 * (p % 8) + v % 2;
                    uint32_t bits;
                    std::memcpy(&bits, &x[static_cast<std::size_t>(src)], 4);
                    INFO("len " << len << " at " << i);
                    REQUIRE(got[static_cast<std::size_t>(i)] == bits >> 16);
                }
                for (const float odd_one : {1.0f + 0x1p-20f, 0x1p-130f, -0x1p-127f}) {  // not bf16, subnormals
                    auto y = x;
                    y[static_cast<std::size_t>(len / 3)] = odd_one;
                    CHECK_FALSE(kt.e2m1_bf16.layout(y.data(), len, got.data()));
                }
            }
        }
        SECTION("the kernels equal the float64 sum and give each row pair its result alone, bit for bit") {
            // V4's blocks of 32, a last half chunk, one chunk, blocks of 64 and of 96 (a block edge
            // inside a chunk), and unscaled rows (one block).
            for (const auto& [kdim, block_k] :
                 {std::pair<int64_t, int64_t>{2048, 32}, {96, 32}, {32, 32}, {256, 64}, {288, 96}, {160, 160}}) {
                check_bf16_kernels(rng, k::weight_format::e2m1, kdim, block_k, kt.e2m1_bf16, 1.0f);
            }
            float out[4];
            std::vector<uint16_t> xb(64, 0);
            const std::vector<uint8_t> codes(64, 0x11);
            const uint8_t* some_rows[5] = {codes.data(), codes.data(), codes.data(), codes.data(), codes.data()};
            const float one = 1.0f;
            const float* one_scales[5] = {&one, &one, &one, &one, &one};
            // Not whole 32-code steps, nine or five rows: nothing computed.
            CHECK_FALSE(kt.e2m1_bf16.dot(xb.data(), 48, 1, codes.data(), 48, &one, 48, out));
            CHECK_FALSE(kt.e2m1_bf16.dot(xb.data(), 64, 9, codes.data(), 64, &one, 64, out));
            CHECK_FALSE(kt.e2m1_bf16.dot_weight_rows(xb.data(), some_rows, 5, 64, one_scales, 64, out));
            CHECK_FALSE(kt.e2m1_bf16.dot_weight_rows(xb.data(), some_rows, 2, 64, one_scales, 48, out));
        }
        SECTION("matmul takes them for bf16 rows, and a row outside bf16 keeps each row's result alone") {
            auto w = random_weight(rng, k::weight_format::e2m1, 43, 2048, k::scale_format::e8m0, 1, 32);
            check_bf16_rows_in_matmul(ex, rng, w.view, kt.e2m1_bf16, 32);
            check_matmul(ex, rng, w.view, 3, 1.0);  // and arbitrary float32 activations take the float32 kernels
        }
    });
}

TEST_CASE("FP8 products on bf16-exact activations (FP8-rounded, V3.2's and V4's linears) take the bf16 kernels",
          "[fast][matmul]") {
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(47);
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        const k::fast::kernel_table& kt = k::fast::active_kernels();
        const k::fast::bf16_act_kernels& xk = kt.e4m3_bf16;
        INFO("isa " << k::fast::isa_name(isa));
        if (!xk.layout) {
            REQUIRE(xk.dot == nullptr);
            REQUIRE(xk.dot_weight_rows == nullptr);
            REQUIRE(xk.dot_row_streams == nullptr);
            return;
        }
        SECTION("the layout: per 64 elements, each 16's first 8 then each 16's last 8; exactness told") {
            for (const int64_t len : {64, 128, 1024 + 64}) {
                auto x = fp8_like_activations(rng, static_cast<std::size_t>(len));
                x[0] = -0.0f;
                x[static_cast<std::size_t>(len - 1)] = -std::numeric_limits<float>::infinity();
                std::vector<uint16_t> got(static_cast<std::size_t>(len));
                REQUIRE(xk.layout(x.data(), len, got.data()));
                for (int64_t i = 0; i < len; ++i) {
                    // Step c of 64: vector v (of two) holds in word 8L + q element 16L + 8v + q.
                    const int64_t c = i / 64 * 64, v = (i - c) / 32, p = (i - c) % 32;
                    const int64_t src = c + 16 * (p / 8) + 8 * v + p % 8;
                    uint32_t bits;
                    std::memcpy(&bits, &x[static_cast<std::size_t>(src)], 4);
                    INFO("len " << len << " at " << i);
                    REQUIRE(got[static_cast<std::size_t>(i)] == bits >> 16);
                }
                for (const float odd_one : {1.0f + 0x1p-20f, 0x1p-130f, -0x1p-127f}) {  // not bf16, subnormals
                    auto y = x;
                    y[static_cast<std::size_t>(len * 2 / 3)] = odd_one;
                    CHECK_FALSE(xk.layout(y.data(), len, got.data()));
                }
            }
            std::vector<uint16_t> out(96);
            const std::vector<float> x(96, 1.0f);
            CHECK_FALSE(xk.layout(x.data(), 96, out.data()));  // not whole steps of 64
        }
        SECTION("the kernels equal the float64 sum and give each row pair its result alone, bit for bit") {
            // DeepSeek's blocks of 128 over long rows, a last half block, one step, blocks of 64 and of
            // 192 (three steps), a block as long as the row. Codes cover every value but NaN, the
            // subnormal ones included.
            for (const auto& [kdim, block_k] :
                 {std::pair<int64_t, int64_t>{2048, 128}, {192, 128}, {64, 128}, {256, 64}, {384, 192}, {320, 320}}) {
                check_bf16_kernels(rng, k::weight_format::e4m3, kdim, block_k, xk, 0.75f);
            }
            float out[4];
            std::vector<uint16_t> xb(128, 0);
            const std::vector<uint8_t> codes(128, 0x38);
            const uint8_t* some_rows[5] = {codes.data(), codes.data(), codes.data(), codes.data(), codes.data()};
            const float one = 1.0f;
            const float* one_scales[5] = {&one, &one, &one, &one, &one};
            // Not whole 64-code steps, blocks that split a step, nine or five rows: nothing computed.
            CHECK_FALSE(xk.dot(xb.data(), 96, 1, codes.data(), 96, &one, 128, out));
            CHECK_FALSE(xk.dot(xb.data(), 128, 1, codes.data(), 128, &one, 96, out));
            CHECK_FALSE(xk.dot(xb.data(), 128, 9, codes.data(), 128, &one, 128, out));
            CHECK_FALSE(xk.dot_weight_rows(xb.data(), some_rows, 5, 128, one_scales, 128, out));
        }
        SECTION("matmul takes them for bf16 rows, and a row outside bf16 keeps each row's result alone") {
            auto w = random_weight(rng, k::weight_format::e4m3, 300, 1024, k::scale_format::f32, 128, 128);
            w.view.no_nan_codes = true;
            check_bf16_rows_in_matmul(ex, rng, w.view, xk, 128);
            // Rows of 2048 bf16 values are laid out a cache line more than 4 KiB apart.
            auto wide_rows = random_weight(rng, k::weight_format::e4m3, 40, 2048, k::scale_format::f32, 128, 128);
            wide_rows.view.no_nan_codes = true;
            check_bf16_rows_in_matmul(ex, rng, wide_rows.view, xk, 128);
            check_matmul(ex, rng, w.view, 3, 1.0);  // and arbitrary float32 activations take the float32 kernels
        }
    });
}
