// The optional two-stage ("blocks, then tokens") DSA selection of V3.2 decoding steps.
// With blocks of one token the block means are the keys themselves, so the coarse stage must pick
// exactly DSA's top-k and the logits must equal the exact path bit for bit; with real blocks it is
// an approximation whose recall against the exact top-k is measured and reported.
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "cpu-device.h"
#include "graph/deepseek-v3.h"
#include "model/checkpoint.h"
#include "model/config.h"

namespace {

const std::string k_dir = std::string(MNEME_TEST_DATA_DIR) + "/golden/v32-tiny";

// Logits of `decode` tokens decoded one at a time after a prompt of `prompt` tokens.
std::vector<double> run(const mneme::model_config& cfg, const mneme::checkpoint& ckpt, mneme::v3_options opts,
                        int64_t prompt, int64_t decode) {
    mneme::test::cpu_device dev(MNEME_DTYPE_F32);
    const auto arch = mneme::make_deepseek_v3(ckpt, cfg, dev.g(), opts);
    auto st = arch->new_state(dev.g(), prompt + decode);
    std::vector<int32_t> tokens(static_cast<std::size_t>(prompt));
    for (int64_t i = 0; i < prompt; ++i) tokens[static_cast<std::size_t>(i)] = static_cast<int32_t>((i * 37 + 11) % cfg.vocab_size);
    (void)arch->forward(dev.g(), *st, tokens, false);
    std::vector<double> out;
    for (int64_t i = 0; i < decode; ++i) {
        const int32_t t = static_cast<int32_t>((i * 53 + 5) % cfg.vocab_size);
        const std::vector<double> l = arch->forward(dev.g(), *st, std::span<const int32_t>(&t, 1), false);
        out.insert(out.end(), l.begin(), l.end());
    }
    return out;
}

}  // namespace

TEST_CASE("coarse indexer with one-token blocks equals exact DSA selection", "[coarse-indexer]") {
    const mneme::model_config cfg = mneme::load_model_config(k_dir + "/config.json");
    const auto ckpt = mneme::checkpoint::open(k_dir);
    REQUIRE(cfg.index_topk < 40);  // so that the 300-token context really exercises the coarse stage

    mneme::v3_options exact;
    mneme::coarse_recall recall;
    mneme::v3_options coarse;
    coarse.coarse_block = 1;
    coarse.recall = &recall;
    const auto want = run(cfg, *ckpt, exact, 300, 12);
    const auto got = run(cfg, *ckpt, coarse, 300, 12);
    REQUIRE(recall.selections > 0);
    CHECK(recall.found == recall.selections);
    CHECK(got == want);
}

TEST_CASE("coarse indexer recall against the exact top-k is measured", "[coarse-indexer]") {
    const mneme::model_config cfg = mneme::load_model_config(k_dir + "/config.json");
    const auto ckpt = mneme::checkpoint::open(k_dir);
    const auto exact_logits = run(cfg, *ckpt, {}, 600, 16);
    for (int64_t block : {4, 16}) {
        mneme::coarse_recall recall;
        mneme::v3_options coarse;
        coarse.coarse_block = block;
        coarse.recall = &recall;
        const auto logits = run(cfg, *ckpt, coarse, 600, 16);
        REQUIRE(recall.selections > 0);
        REQUIRE(recall.found <= recall.selections);
        const double r = static_cast<double>(recall.found) / static_cast<double>(recall.selections);
        double max_diff = 0, max_ref = 0;
        for (std::size_t i = 0; i < logits.size(); ++i) {
            max_diff = std::max(max_diff, std::abs(logits[i] - exact_logits[i]));
            max_ref = std::max(max_ref, std::abs(exact_logits[i]));
        }
        // The figure for docs: recall and the logits' deviation (random weights: the hardest case,
        // as nothing makes a block's mean key predict its best token).
        std::printf("coarse indexer, v32-tiny (index_topk %lld), 600-token context, blocks of %lld: recall %.3f, "
                    "max |dlogit| / max |logit| %.3g\n",
                    static_cast<long long>(cfg.index_topk), static_cast<long long>(block), r, max_diff / max_ref);
        CHECK(r > 0.0);
    }
}
