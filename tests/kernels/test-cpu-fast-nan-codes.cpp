// FP8 NaN codes and the scan the decode-sized kernels skip for weights known to hold none: the
// byte scan itself, the kernels with and without it, and the CPU plugin's memory of which wrapped
// buffers were scanned (forgotten on every write through the plugin).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "cpu-backend.h"
#include "fast-test-support.h"
#include "kernel-harness.h"

namespace {

bool naive_free_of_nan_codes(const std::vector<uint8_t>& b) {
    for (uint8_t v : b) {
        if ((v & 0x7f) == 0x7f) return false;
    }
    return true;
}

// Random FP8 codes other than the NaN ones, with their near misses (0x7e, 0xfe, 0x3f, 0xbf) often.
std::vector<uint8_t> clean_codes(std::mt19937& rng, std::size_t n) {
    static constexpr uint8_t near[] = {0x7e, 0xfe, 0x3f, 0xbf, 0x80, 0x00, 0x01, 0x81};
    std::vector<uint8_t> q(n);
    for (auto& v : q) {
        if (rng() % 4 == 0) {
            v = near[rng() % 8];
        } else {
            do v = static_cast<uint8_t>(rng());
            while ((v & 0x7f) == 0x7f);
        }
    }
    return q;
}

}  // namespace

TEST_CASE("the NaN-code byte scan finds 0x7f and 0xff at every position and nothing else", "[fast][fp8]") {
    std::mt19937 rng(11);
    for (std::size_t len = 0; len <= 41; ++len) {
        const std::vector<uint8_t> clean = clean_codes(rng, len);
        CHECK(mneme::kernels::free_of_e4m3_nan_codes(clean.data(), len));
        for (std::size_t at = 0; at < len; ++at) {
            for (uint8_t code : {uint8_t{0x7f}, uint8_t{0xff}}) {
                std::vector<uint8_t> b = clean;
                b[at] = code;
                INFO("length " << len << ", code " << int(code) << " at " << at);
                REQUIRE_FALSE(naive_free_of_nan_codes(b));
                CHECK_FALSE(mneme::kernels::free_of_e4m3_nan_codes(b.data(), len));
            }
        }
    }
}

TEST_CASE("decode-sized FP8 products give the same bits whether or not the rows are scanned", "[fast][fp8]") {
    mneme::test::pooled_exec ex;
    std::mt19937 rng(12);
    // 389 rows: the three streams of a thread's rows start inside different 128-row scale blocks
    // and cross into the next ones at different rounds.
    const int64_t n = 389, k = 384;
    std::vector<uint8_t> q = clean_codes(rng, static_cast<std::size_t>(n * k));
    std::vector<float> scales(4 * 3), x(16 * k);
    for (auto& s : scales) s = std::ldexp(1.0f, static_cast<int>(rng() % 8) - 10);
    std::uniform_real_distribution<float> u(-2.0f, 2.0f);
    for (auto& v : x) v = u(rng);
    mneme::kernels::weight_view w;
    w.data = q.data();
    w.format = mneme::kernels::weight_format::e4m3;
    w.n = n;
    w.k = k;
    w.row_bytes = k;
    w.scale = reinterpret_cast<const uint8_t*>(scales.data());
    w.scale_fmt = mneme::kernels::scale_format::f32;
    w.block_n = 128;
    w.block_k = 128;
    w.scale_row_elems = 3;
    mneme::test::for_each_isa([&](mneme::kernels::fast::isa i) {
        std::vector<float> lone;  // the one-row product, trusted
        for (int64_t rows : {1, 2, 5, 9, 16}) {
            for (const double alpha : {1.0, 0.5}) {
                std::vector<float> scanned(static_cast<std::size_t>(rows * n)), trusted(scanned.size());
                w.no_nan_codes = false;
                mneme::kernels::fast::matmul(ex.ctx, x.data(), rows, k, w, scanned.data(), n, alpha);
                w.no_nan_codes = true;
                mneme::kernels::fast::matmul(ex.ctx, x.data(), rows, k, w, trusted.data(), n, alpha);
                INFO("isa " << int(i) << ", rows " << rows << ", alpha " << alpha);
                CHECK(std::memcmp(scanned.data(), trusted.data(), scanned.size() * 4) == 0);
                // A verify pass's first row is the decoding step's row, bit for bit.
                if (alpha == 1.0 && rows == 1) lone = trusted;
                if (alpha == 1.0) CHECK(std::memcmp(lone.data(), trusted.data(), lone.size() * 4) == 0);
            }
        }
    });
}

TEST_CASE("FP8 weights are scanned once per tensor, and a write through the plugin brings NaN codes back",
          "[fast][fp8]") {
    mneme::test::backend_fixture fx(mneme_cpu_plugin_table());
    std::mt19937 rng(13);
    const int64_t n = 48, k = 256;
    std::vector<float> xs(static_cast<std::size_t>(k)), sf{0.01f, 0.02f};
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (auto& v : xs) v = u(rng);
    const mneme_tensor x = fx.tensor_of(MNEME_DTYPE_F32, {k, 1}, xs);
    const mneme_tensor scale = fx.tensor_of(MNEME_DTYPE_F32, {2, 1}, sf);
    const mneme_op_matmul p{1.0, 128, 128};
    const auto same_bits = [](const std::vector<float>& a, const std::vector<float>& b) {
        return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
    };
    const auto product = [&](const mneme_tensor& w) {
        const mneme_tensor y = fx.tensor(MNEME_DTYPE_F32, {n, 1});
        REQUIRE(fx.run(MNEME_OP_MATMUL, y, {x, w, scale}, &p, sizeof(p)) == MNEME_OK);
        return fx.read<float>(y, static_cast<std::size_t>(n));
    };
    // The same product with the weights alone in a fresh buffer of the plugin's own (scanned anew).
    const auto fresh_product = [&](const std::vector<uint8_t>& bytes) {
        return product(fx.tensor_of(MNEME_DTYPE_F8_E4M3, {k, n}, bytes));
    };

    // Weights where a model keeps them: wrapped memory (a mapped checkpoint), or the second of two
    // tensors in one buffer of the plugin's own (resident weights), whose neighbour has NaN codes.
    const std::vector<uint8_t> original = clean_codes(rng, static_cast<std::size_t>(n * k));
    std::vector<uint8_t> codes = original;  // wrapped: written by the uploads below
    std::vector<uint8_t> resident_bytes = clean_codes(rng, static_cast<std::size_t>(n * k));
    resident_bytes[static_cast<std::size_t>(3 * k + 1)] = 0x7f;  // the neighbour's row 3
    resident_bytes.insert(resident_bytes.end(), original.begin(), original.end());
    const std::vector<uint8_t> neighbour(resident_bytes.begin(), resident_bytes.begin() + n * k);
    const mneme_tensor resident_buffer = fx.tensor_of(MNEME_DTYPE_F8_E4M3, {k, 2 * n}, resident_bytes);
    mneme_tensor neighbour_w = resident_buffer, resident_w = resident_buffer;
    neighbour_w.ne[1] = resident_w.ne[1] = n;
    resident_w.offset += static_cast<uint64_t>(n * k);
    const mneme_tensor wrapped_w = fx.wrap(MNEME_DTYPE_F8_E4M3, {k, n}, codes.data());

    for (const bool resident : {false, true}) {
        INFO((resident ? "resident" : "wrapped") << " weights");
        const mneme_tensor w = resident ? resident_w : wrapped_w;
        std::vector<uint8_t> expect = original;
        if (resident) {
            const std::vector<float> nb = product(neighbour_w);
            CHECK(std::isnan(nb[3]));
            CHECK(same_bits(nb, fresh_product(neighbour)));
        }
        std::vector<float> got = product(w);  // scanned here: no NaN code
        CHECK(same_bits(got, fresh_product(expect)));
        CHECK(same_bits(product(w), got));
        for (float v : got) CHECK(std::isfinite(v));

        // An upload puts a NaN code in row 5: that row's output is NaN again.
        const uint8_t nan_code = 0xff;
        fx.upload(w, 5 * k + 17, &nan_code, 1);
        expect[5 * k + 17] = nan_code;
        got = product(w);
        CHECK(std::isnan(got[5]));
        CHECK(same_bits(got, fresh_product(expect)));

        // Clean again, scanned again; then an op writes float32 bits 0x7f7f7f7f over row 9's first
        // four codes.
        expect[5 * k + 17] = 0x3c;
        fx.upload(w, 5 * k + 17, &expect[5 * k + 17], 1);
        CHECK(same_bits(product(w), fresh_product(expect)));
        uint32_t bits = 0x7f7f7f7fu;
        float big;
        std::memcpy(&big, &bits, 4);
        const mneme_tensor src = fx.tensor_of(MNEME_DTYPE_F32, {1, 1}, std::vector<float>{big});
        mneme_tensor dst = src;
        dst.buffer = w.buffer;
        dst.offset = w.offset + static_cast<uint64_t>(9 * k);
        REQUIRE(fx.run(MNEME_OP_COPY, dst, {src}, nullptr, 0) == MNEME_OK);
        for (int i = 0; i < 4; ++i) expect[static_cast<std::size_t>(9 * k + i)] = 0x7f;
        got = product(w);
        CHECK(std::isnan(got[9]));
        CHECK(same_bits(got, fresh_product(expect)));
    }
}
