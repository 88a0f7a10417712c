// Exactness against the float64 reference (tools/reference): every golden fixture, in prefill,
// decode and chunked modes, at --precision f64 — and the float32 path against the f64 path.
#include <catch2/catch.hpp>
#include <cmath>

#include "model-harness.h"
#include "npy.h"

using namespace mneme::test;

namespace {

void check_exact(const std::string& name) {
    const std::string dir = golden_dir(name);
    const auto tokens = read_tokens(dir);
    const auto ref = read_npy_f64(dir + "/logits.f64.npy");
    REQUIRE(ref.rows == tokens.size());
    loaded_model m(dir);
    for (std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{7}}) {
        const double err = max_relative_error(m.logits(tokens, chunk), ref.data);
        INFO(name << " chunk " << chunk << " max relative error " << err);
        CHECK(err <= 1e-9);
    }
}

// The production float32 path against the f64 path with the activation round trips off.
void check_f32(const std::string& name, double tolerance) {
    const std::string dir = golden_dir(name);
    const auto tokens = read_tokens(dir);
    loaded_model f64(dir, {MNEME_PRECISION_F64, MNEME_ACT_QUANT_OFF});
    loaded_model f32(dir, {MNEME_PRECISION_F32, MNEME_ACT_QUANT_OFF});
    const auto want = f64.logits(tokens);
    for (std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{5}}) {
        const double err = max_relative_error(f32.logits(tokens, chunk), want);
        INFO(name << " chunk " << chunk << " max relative error " << err);
        CHECK(err <= tolerance);
    }
}

}  // namespace

TEST_CASE("V3 logits equal the float64 reference", "[model][v3]") {
    check_exact("v3-tiny");
    check_exact("v3-tiny-sharded");
}

TEST_CASE("V3.2 logits equal the float64 reference, sparse and dense", "[model][v32]") {
    check_exact("v32-tiny");
    check_exact("v32-tiny-dense");
}

TEST_CASE("float32 path agrees with the f64 path without activation round trips", "[model][f32]") {
    check_f32("v3-tiny", 1e-5);
    check_f32("v32-tiny", 1e-5);
}

TEST_CASE("V3.2 with index_topk >= sequence length equals dense MLA", "[model][v32]") {
    // v32-tiny-dense has the same weights as v32-tiny but a top-k larger than the sequence: the
    // reference computed its logits with dense causal attention.
    const std::string dir = golden_dir("v32-tiny-dense");
    const auto tokens = read_tokens(dir);
    const auto dense = read_npy_f64(dir + "/logits.f64.npy");
    loaded_model m(dir);
    CHECK(max_relative_error(m.logits(tokens), dense.data) <= 1e-9);
}
