// Lossless n-gram drafting through the C API: batched logits equal one-at-a-time logits bit for bit,
// greedy output with drafting equals greedy output without it over many random repetitive prompts.
#include <catch2/catch.hpp>

#include <memory>
#include <random>

#include "model-harness.h"

using namespace mneme::test;

namespace {

mneme_bool MNEME_CALL collect(void* user, const mneme_token_event* ev) {
    static_cast<std::vector<int32_t>*>(user)->push_back(ev->token);
    return MNEME_TRUE;
}

std::vector<int32_t> generate(mneme_model* m, const std::vector<int32_t>& prompt, uint32_t n, bool draft,
                              mneme_generate_result& r, float threshold, uint32_t draft_max) {
    mneme_session_desc sd = MNEME_SESSION_DESC_INIT;
    sd.n_ctx = static_cast<uint32_t>(prompt.size() + n + 1);
    mneme_session* s = nullptr;
    REQUIRE(mneme_session_create(m, &sd, &s) == MNEME_OK);
    std::unique_ptr<mneme_session, void (*)(mneme_session*)> guard(s, mneme_session_destroy);
    REQUIRE(mneme_session_feed_tokens(s, prompt.data(), prompt.size(), nullptr) == MNEME_OK);
    std::vector<int32_t> out;
    mneme_generate_desc gd = MNEME_GENERATE_DESC_INIT;
    gd.max_tokens = n;
    gd.stop_at_eos = MNEME_FALSE;
    gd.token_fn = collect;
    gd.token_user_data = &out;
    gd.draft = draft ? MNEME_DRAFT_NGRAM : MNEME_DRAFT_NONE;
    gd.draft_threshold = threshold;
    gd.draft_max = draft_max;
    r = mneme_generate_result{};
    r.struct_size = sizeof(r);
    const mneme_status st = mneme_session_generate(s, &gd, &r);
    INFO(mneme_last_error_message());
    REQUIRE(st == MNEME_OK);
    uint64_t count = 0;
    REQUIRE(mneme_session_token_count(s, &count) == MNEME_OK);
    CHECK(count == prompt.size() + n);
    return out;
}

}  // namespace

// Drafting's verify passes (up to 16 rows) must reproduce token-by-token decoding exactly. The f64
// path is exact for any batch; float32 batches beyond 16 rows (prefill) may take the packed-panel
// GEMM, whose summation order differs, and then agree to float rounding only.
TEST_CASE("batched logits equal one-at-a-time logits bit for bit") {
    for (const char* name : {"v4e-tiny", "v4-tiny", "v3-tiny"}) {
        const std::string dir = golden_dir(name);
        const auto tokens = read_tokens(dir);
        for (mneme_precision p : {MNEME_PRECISION_F64, MNEME_PRECISION_F32}) {
            loaded_model m(dir, {p, MNEME_ACT_QUANT_DEFAULT});
            INFO(name << " precision " << p);
            const auto one_at_a_time = m.logits(tokens, 1);
            CHECK(m.logits(tokens, 5) == one_at_a_time);
            CHECK(m.logits(tokens, 16) == one_at_a_time);
            if (p == MNEME_PRECISION_F64) {
                CHECK(m.logits(tokens, 0) == one_at_a_time);
            } else {
                CHECK(mneme::test::max_relative_error(m.logits(tokens, 0), one_at_a_time) < 1e-4);
            }
        }
    }
}

TEST_CASE("greedy output with n-gram drafting is identical to plain decoding") {
    uint64_t proposed = 0, accepted = 0;
    for (const char* name : {"v4e-tiny", "v4e-conv-tiny", "v4-tiny", "v3-tiny"}) {
        loaded_model m(golden_dir(name), {MNEME_PRECISION_F32, MNEME_ACT_QUANT_DEFAULT});
        mneme_model_info info{};
        info.struct_size = sizeof(info);
        REQUIRE(mneme_model_get_info(m.get(), &info) == MNEME_OK);
        std::mt19937 rng(5);
        for (int k = 0; k < 6; ++k) {
            std::uniform_int_distribution<int32_t> pick(3, static_cast<int32_t>(info.vocab_size) - 1);
            std::vector<int32_t> unit(static_cast<std::size_t>(4 + k));
            for (auto& t : unit) t = pick(rng);
            std::vector<int32_t> prompt;
            for (int r = 0; r < 4; ++r) prompt.insert(prompt.end(), unit.begin(), unit.end());
            mneme_generate_result plain{}, drafted{};
            const auto want = generate(m.get(), prompt, 24, false, plain, 0.0f, 0);
            // Low thresholds and short drafts make rejections (and so rollbacks) frequent.
            for (float threshold : {0.0f, 0.3f}) {
                const auto got = generate(m.get(), prompt, 24, true, drafted, threshold == 0.0f ? 1e-6f : threshold, k % 2 ? 3 : 8);
                INFO(name << " prompt " << k << " threshold " << threshold);
                CHECK(got == want);
                CHECK(drafted.n_draft_accepted <= drafted.n_draft_proposed);
                CHECK(drafted.n_drafted <= drafted.n_tokens);
                proposed += drafted.n_draft_proposed;
                accepted += drafted.n_draft_accepted;
            }
        }
    }
    std::printf("greedy identity: %llu drafts proposed, %llu accepted\n", static_cast<unsigned long long>(proposed),
                static_cast<unsigned long long>(accepted));
    CHECK(proposed > accepted);  // rejections happened
    CHECK(accepted > 0);
}
