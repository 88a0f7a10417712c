// The stored-format pieces of MLA's absorbed kv_b_proj (deepseek-v3.cpp) and of V4's grouped wo_a
// (v4-attention.cpp): a row slice of a block-scaled weight (with its scales per block, or per row
// from with_row_scales) and a transposed copy of some of its rows must multiply exactly like the
// same rows of the dequantised weight, for F32 and E8M0 scales and for unscaled BF16.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cpu-device.h"
#include "graph/weights.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "test-checkpoint-helpers.h"

namespace {

using mneme_test::tensor_spec;

// 448 rows (a partial last block of 64), 200 columns (a partial block of 72); heads of 96 rows
// start on blocks at rows 0, 128 and 256.
constexpr int64_t k_rows = 448, k_cols = 200, k_block = 128, k_n = 96, k_tokens = 3;
const int64_t k_gn = (k_rows + k_block - 1) / k_block, k_gk = (k_cols + k_block - 1) / k_block;

std::vector<uint8_t> e4m3_bytes(std::mt19937& rng, std::size_t n) {
    std::vector<uint8_t> b(n);
    for (auto& v : b) {
        do {
            v = static_cast<uint8_t>(rng());
        } while ((v & 0x7F) == 0x7F);  // NaN
    }
    return b;
}

std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
    std::vector<uint8_t> b(v.size() * 4);
    std::memcpy(b.data(), v.data(), b.size());
    return b;
}

// The three storage variants, written into one checkpoint.
std::vector<tensor_spec> tensors() {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> scale(0.001f, 0.02f);
    std::vector<float> s(static_cast<std::size_t>(k_gn * k_gk));
    for (float& v : s) v = scale(rng);
    std::vector<uint8_t> e8(s.size());
    for (auto& v : e8) v = static_cast<uint8_t>(120 + rng() % 10);
    std::vector<uint8_t> bf(static_cast<std::size_t>(k_rows * k_cols) * 2);
    for (std::size_t i = 0; i < bf.size(); i += 2) {
        float f = scale(rng) * (rng() % 2 ? 1.0f : -1.0f);
        uint32_t bits;
        std::memcpy(&bits, &f, 4);
        bf[i] = static_cast<uint8_t>(bits >> 16);
        bf[i + 1] = static_cast<uint8_t>(bits >> 24);
    }
    const auto n = static_cast<std::size_t>(k_rows * k_cols);
    return {{"f32s.weight", "F8_E4M3", {k_rows, k_cols}, e4m3_bytes(rng, n)},
            {"f32s.weight_scale_inv", "F32", {k_gn, k_gk}, f32_bytes(s)},
            {"e8m0.weight", "F8_E4M3", {k_rows, k_cols}, e4m3_bytes(rng, n)},
            {"e8m0.scale", "F8_E8M0", {k_gn, k_gk}, e8},
            {"plain.weight", "BF16", {k_rows, k_cols}, bf}};
}

std::vector<double> random_values(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> d(-1.0, 1.0);
    std::vector<double> v(n);
    for (double& x : v) x = d(rng);
    return v;
}

// |got - want| within tol of the products' magnitude (cancellation leaves float32 sums far less
// accurate relative to the sum itself).
void check_close(const std::vector<double>& got, const std::vector<double>& want, const std::vector<double>& mag,
                 double tol) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        INFO("element " << i << ": " << got[i] << " vs " << want[i]);
        CHECK(std::abs(got[i] - want[i]) <= tol * (1.0 + mag[i]));
    }
}

void check_pieces(mneme_dtype act, const std::string& prefix, double tol) {
    mneme_test::temp_dir dir;
    mneme_test::write_bytes(dir.file("model.safetensors"), mneme_test::encode_safetensors(tensors()));
    const auto ckpt = mneme::checkpoint::open(dir.path().string());
    mneme::model_config cfg;
    mneme::test::cpu_device dev(act);
    mneme::graph_builder& g = dev.g();
    mneme::weight_store ws(*ckpt, cfg, g);
    const mneme::linear_weight w = ws.linear(prefix, k_rows, k_cols);
    const mneme_tensor dense_t = g.tensor({k_cols, k_rows});
    g.dequantise(dense_t, w);
    const std::vector<double> dense = g.read(dense_t);  // [rows, cols]
    // y[o] = sum_i x[i] * at(o, i) for o < n_out, i < n_in, summed in i order (the reference
    // kernel's), against `weight` multiplying k_tokens random rows of n_in values.
    const auto check_product = [&](const mneme::linear_weight& weight, int64_t n_in, int64_t n_out, unsigned seed,
                                   auto at) {
        const std::vector<double> x = random_values(static_cast<std::size_t>(n_in * k_tokens), seed);
        std::vector<double> want(static_cast<std::size_t>(n_out * k_tokens)), mag(want.size());
        for (int64_t s = 0; s < k_tokens; ++s) {
            for (int64_t o = 0; o < n_out; ++o) {
                double acc = 0, m = 0;
                for (int64_t i = 0; i < n_in; ++i) {
                    const double p = x[static_cast<std::size_t>(s * n_in + i)] * at(o, i);
                    acc += p;
                    m += std::abs(p);
                }
                want[static_cast<std::size_t>(s * n_out + o)] = acc;
                mag[static_cast<std::size_t>(s * n_out + o)] = m;
            }
        }
        const mneme_tensor xt = dev.constant({n_in, k_tokens}, x);
        const mneme_tensor yt = g.tensor({n_out, k_tokens});
        g.matmul(yt, xt, weight);
        check_close(g.read(yt), want, mag, tol);
    };
    const auto w_at = [&](int64_t r, int64_t c) { return dense[static_cast<std::size_t>(r * k_cols + c)]; };
    // W rows [f, f + n) of `slice` (those rows of w): y[r] = sum_c x[c] * W[f + r, c].
    const auto check_rows = [&](const mneme::linear_weight& slice, int64_t f, unsigned seed) {
        check_product(slice, k_cols, k_n, seed, [&](int64_t r, int64_t c) { return w_at(f + r, c); });
    };

    const std::vector<int64_t> firsts = {0, 128, 256};
    const std::vector<mneme::linear_weight> t = ws.transposed_rows(prefix, w, firsts, k_n);
    REQUIRE(t.size() == firsts.size());
    for (std::size_t i = 0; i < firsts.size(); ++i) {
        const int64_t f = firsts[i];
        INFO("rows " << f << "+" << k_n);
        CHECK(t[i].out_features() == k_cols);
        CHECK(t[i].in_features() == k_n);
        // W^T: y[c] = sum_r x[r] * W[f + r, c].
        check_product(t[i], k_n, k_cols, 11 + static_cast<unsigned>(i),
                      [&](int64_t c, int64_t r) { return w_at(f + r, c); });

        check_rows(mneme::row_slice(w, f, k_n), f, 23 + static_cast<unsigned>(i));
    }
    // Off a scale block the stored scales cannot be shared (deepseek-v3.cpp falls back to a dense copy).
    const std::vector<int64_t> off_block = {64};
    if (w.scale.buffer) {
        CHECK_THROWS_AS(mneme::row_slice(w, 64, k_n), mneme::error);
        CHECK_THROWS_AS(ws.transposed_rows(prefix, w, off_block, k_n), mneme::error);
    } else {
        CHECK(mneme::row_slice(w, 64, k_n).w.ne[1] == k_n);
        CHECK(ws.transposed_rows(prefix, w, off_block, k_n).size() == 1);
    }
    // With a scale row per weight row (V4's wo_a, whose groups need not start a block), any rows.
    const mneme::linear_weight per_row = ws.with_row_scales(prefix, w);
    CHECK(per_row.block_n == 1);
    for (const int64_t f : {int64_t{64}, int64_t{0}, k_rows - k_n}) {
        INFO("row-scaled, rows " << f << "+" << k_n);
        check_rows(mneme::row_slice(per_row, f, k_n), f, 31 + static_cast<unsigned>(f));
    }
    g.scratch().reset();
}

}  // namespace

TEST_CASE("absorbed kv_b pieces in the stored format equal the dequantised rows", "[weights]") {
    for (const char* prefix : {"f32s", "e8m0", "plain"}) {
        SECTION(std::string(prefix) + ", float64: exact") {
            check_pieces(MNEME_DTYPE_F64, prefix, 0.0);
        }
        SECTION(std::string(prefix) + ", float32") {
            check_pieces(MNEME_DTYPE_F32, prefix, 2e-5);
        }
    }
}
