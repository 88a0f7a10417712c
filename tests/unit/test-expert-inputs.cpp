// record_expert_inputs (the decode-sized MoE passes' per-expert ids, weights and gathered rows)
// against rows_of_expert, the per-expert scan the prefill path uses, on random routings: every
// expert some token picks, in expert order, with its tokens in token order.
#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "core/error.h"
#include "cpu-device.h"
#include "graph/expert-inputs.h"
#include "graph/moe-routing.h"

namespace {

// Each token picks top_k distinct experts in a random order, with random weights.
mneme::routing random_routing(std::mt19937& rng, int64_t tokens, int64_t n_experts, int64_t top_k) {
    mneme::routing r;
    r.top_k = top_k;
    std::vector<int32_t> all(static_cast<std::size_t>(n_experts));
    std::iota(all.begin(), all.end(), 0);
    std::uniform_real_distribution<double> weight(0.01, 2.0);
    for (int64_t t = 0; t < tokens; ++t) {
        std::shuffle(all.begin(), all.end(), rng);
        for (int64_t j = 0; j < top_k; ++j) {
            r.expert.push_back(all[static_cast<std::size_t>(j)]);
            r.weight.push_back(weight(rng));
        }
    }
    return r;
}

}  // namespace

TEST_CASE("record_expert_inputs matches rows_of_expert expert by expert", "[moe]") {
    std::mt19937 rng(20261203);
    struct shape {
        int64_t tokens, n_experts, top_k;
    };
    for (const shape sh : {shape{1, 1, 1}, shape{1, 64, 8}, shape{2, 7, 3}, shape{5, 13, 13}, shape{16, 64, 8},
                           shape{16, 3, 2}, shape{11, 257, 6}}) {
        CAPTURE(sh.tokens, sh.n_experts, sh.top_k);
        mneme::test::cpu_device dev(MNEME_DTYPE_F64);
        auto& g = dev.g();
        const int64_t d = 5;
        std::vector<double> xv(static_cast<std::size_t>(d * sh.tokens));
        for (std::size_t i = 0; i < xv.size(); ++i) xv[i] = static_cast<double>(i) + 0.25;
        const mneme_tensor xq = dev.constant({d, sh.tokens}, xv);
        const mneme::routing r = random_routing(rng, sh.tokens, sh.n_experts, sh.top_k);

        const std::vector<mneme::expert_inputs> got = mneme::record_expert_inputs(g, r, sh.n_experts, sh.tokens, xq);
        std::size_t at = 0;
        for (int64_t e = 0; e < sh.n_experts; ++e) {
            const mneme::expert_rows want = mneme::rows_of_expert(r, sh.tokens, e);
            if (want.rows.empty()) continue;
            CAPTURE(e);
            REQUIRE(at < got.size());
            const mneme::expert_inputs& in = got[at++];
            CHECK(in.expert == e);
            const auto n = static_cast<int64_t>(want.rows.size());
            REQUIRE(in.ids.ne[0] == n);
            const std::vector<double> ids = g.read(in.ids), weights = g.read(in.weights);
            for (int64_t i = 0; i < n; ++i) {
                CHECK(ids[static_cast<std::size_t>(i)] == want.rows[static_cast<std::size_t>(i)]);
                CHECK(weights[static_cast<std::size_t>(i)] == want.weights[static_cast<std::size_t>(i)]);
            }
            if (n == sh.tokens) {
                // Every token routes here: the expert takes xq itself, no gathered copy.
                CHECK(in.x.buffer == xq.buffer);
                CHECK(in.x.offset == xq.offset);
            } else {
                REQUIRE(in.x.ne[1] == n);
                const std::vector<double> rows = g.read(in.x);
                for (int64_t i = 0; i < n; ++i) {
                    const int64_t t = want.rows[static_cast<std::size_t>(i)];
                    for (int64_t c = 0; c < d; ++c) {
                        CHECK(rows[static_cast<std::size_t>(i * d + c)] == xv[static_cast<std::size_t>(t * d + c)]);
                    }
                }
            }
        }
        CHECK(at == got.size());
    }
}

TEST_CASE("record_expert_inputs refuses an expert id outside the layer", "[moe]") {
    mneme::test::cpu_device dev(MNEME_DTYPE_F64);
    const mneme_tensor xq = dev.constant({2, 2}, {1, 2, 3, 4});
    mneme::routing r;
    r.top_k = 1;
    r.expert = {0, 4};
    r.weight = {1.0, 1.0};
    CHECK_THROWS_AS(mneme::record_expert_inputs(dev.g(), r, 4, 2, xq), mneme::error);
    r.expert = {-1, 0};
    CHECK_THROWS_AS(mneme::record_expert_inputs(dev.g(), r, 4, 2, xq), mneme::error);
    r.expert = {0};
    CHECK_THROWS_AS(mneme::record_expert_inputs(dev.g(), r, 4, 2, xq), mneme::error);
}
