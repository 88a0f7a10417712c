// Per-answer statistics (mneme_session_last_generation_stats and its arrays) checked against facts
// the SDK does not compute for them: the checkpoint's config.json and hash-routing table, the
// number of tokens asked for, the generate call's own result, and the indexer's visibility rule.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstring>
#include <fstream>
#include <memory>
#include <numeric>

#include "model-harness.h"

using namespace mneme::test;
using json = nlohmann::json;

namespace {

json read_config(const std::string& dir) {
    std::ifstream f(dir + "/config.json");
    REQUIRE(f.good());
    return json::parse(f);
}

// Indexer layers as the checkpoint declares them: every layer of V3.2, the ratio-4 layers of V4.
int64_t indexer_layers(const json& cfg) {
    const int64_t layers = cfg["num_hidden_layers"].get<int64_t>();
    if (!cfg.contains("compress_ratios")) return cfg.contains("index_topk") ? layers : 0;
    int64_t n = 0;
    for (int64_t i = 0; i < layers; ++i) n += cfg["compress_ratios"][static_cast<std::size_t>(i)].get<int64_t>() == 4;
    return n;
}

// layers.0.ffn.gate.tid2eid of a V4 checkpoint, straight from the safetensors file: [vocab][top_k].
std::vector<int64_t> read_tid2eid(const std::string& dir) {
    std::ifstream f(dir + "/model.safetensors", std::ios::binary);
    REQUIRE(f.good());
    uint64_t header_len = 0;
    f.read(reinterpret_cast<char*>(&header_len), 8);
    std::string header(header_len, '\0');
    f.read(header.data(), static_cast<std::streamsize>(header_len));
    const json t = json::parse(header).at("layers.0.ffn.gate.tid2eid");
    REQUIRE(t["dtype"] == "I64");
    const auto begin = t["data_offsets"][0].get<uint64_t>(), end = t["data_offsets"][1].get<uint64_t>();
    std::vector<int64_t> ids((end - begin) / 8);
    f.seekg(static_cast<std::streamoff>(8 + header_len + begin));
    f.read(reinterpret_cast<char*>(ids.data()), static_cast<std::streamsize>(end - begin));
    return ids;
}

mneme_bool MNEME_CALL collect(void* user, const mneme_token_event* ev) {
    static_cast<std::vector<int32_t>*>(user)->push_back(ev->token);
    return MNEME_TRUE;
}

struct session_ptr {
    std::unique_ptr<mneme_session, void (*)(mneme_session*)> p{nullptr, mneme_session_destroy};
    mneme_session* get() const { return p.get(); }
};

session_ptr new_session(mneme_model* m, uint32_t n_ctx) {
    mneme_session_desc sd = MNEME_SESSION_DESC_INIT;
    sd.n_ctx = n_ctx;
    mneme_session* s = nullptr;
    REQUIRE(mneme_session_create(m, &sd, &s) == MNEME_OK);
    session_ptr out;
    out.p.reset(s);
    return out;
}

struct answer {
    std::vector<int32_t> tokens;
    mneme_generate_result result{};
    mneme_generation_stats stats{};
};

answer generate(mneme_session* s, uint32_t n, uint32_t flags, mneme_draft_mode draft = MNEME_DRAFT_NONE) {
    answer a;
    mneme_generate_desc gd = MNEME_GENERATE_DESC_INIT;
    gd.max_tokens = n;
    gd.stop_at_eos = MNEME_FALSE;
    gd.token_fn = collect;
    gd.token_user_data = &a.tokens;
    gd.flags = flags;
    gd.draft = draft;
    a.result.struct_size = sizeof(a.result);
    const mneme_status st = mneme_session_generate(s, &gd, &a.result);
    INFO(mneme_last_error_message());
    REQUIRE(st == MNEME_OK);
    a.stats.struct_size = sizeof(a.stats);
    REQUIRE(mneme_session_last_generation_stats(s, &a.stats) == MNEME_OK);
    return a;
}

std::vector<uint64_t> expert_counts(mneme_session* s) {
    size_t n = 0;
    REQUIRE(mneme_session_last_expert_counts(s, nullptr, 0, &n) >= 0);
    std::vector<uint64_t> out(n);
    REQUIRE(mneme_session_last_expert_counts(s, out.data(), out.size(), &n) == MNEME_OK);
    return out;
}

std::vector<uint64_t> selection_counts(mneme_session* s, uint32_t bucket) {
    size_t n = 0;
    REQUIRE(mneme_session_last_selection_counts(s, bucket, nullptr, 0, &n) >= 0);
    std::vector<uint64_t> out(n);
    REQUIRE(mneme_session_last_selection_counts(s, bucket, out.data(), out.size(), &n) == MNEME_OK);
    return out;
}

uint64_t sum(const std::vector<uint64_t>& v) {
    return std::accumulate(v.begin(), v.end(), uint64_t{0});
}

}  // namespace

TEST_CASE("generation stats: expert counts add up to the forwarded tokens times the experts per token") {
    for (const char* name : {"v3-tiny", "v32-tiny", "v4-tiny", "v4e-tiny"}) {
        INFO(name);
        const std::string dir = golden_dir(name);
        const json cfg = read_config(dir);
        const auto prompt = read_tokens(dir);
        loaded_model m(dir);
        const uint32_t n = 6;
        session_ptr s = new_session(m.get(), static_cast<uint32_t>(prompt.size() + n + 1));
        REQUIRE(mneme_session_feed_tokens(s.get(), prompt.data(), prompt.size(), nullptr) == MNEME_OK);
        const answer a = generate(s.get(), n, 0);

        // Every generated token is fed back once: n single-token passes.
        CHECK(a.stats.generated_tokens == n);
        CHECK(a.stats.forwarded_tokens == n);
        CHECK(a.stats.forward_passes == a.result.n_forward_passes);
        CHECK(a.stats.prompt_tokens == prompt.size());
        CHECK(a.stats.context_tokens == prompt.size() + n);

        const auto layers = cfg["num_hidden_layers"].get<uint32_t>();
        const auto experts = cfg["n_routed_experts"].get<uint32_t>();
        const auto k = cfg["num_experts_per_tok"].get<uint64_t>();
        CHECK(a.stats.n_layers == layers);
        CHECK(a.stats.n_experts == experts);
        CHECK(a.stats.experts_per_token == k);
        const std::vector<uint64_t> counts = expert_counts(s.get());
        REQUIRE(counts.size() == static_cast<std::size_t>(layers) * experts);
        uint32_t moe_rows = 0;
        for (uint32_t l = 0; l < layers; ++l) {
            const uint64_t row =
                std::accumulate(counts.begin() + l * experts, counts.begin() + (l + 1) * experts, uint64_t{0});
            INFO("layer " << l);
            if (row == 0) continue;  // a dense layer
            ++moe_rows;
            CHECK(row == n * k);
        }
        CHECK(moe_rows == a.stats.n_moe_layers);
        const bool v3 = !cfg.contains("compress_ratios");
        if (v3) {
            CHECK(moe_rows == layers - cfg["first_k_dense_replace"].get<uint32_t>());
        } else {
            CHECK(moe_rows == layers);
        }
        // Not collected: no selection, and the histogram is all zero.
        CHECK(a.stats.selections_collected == MNEME_FALSE);
        CHECK(a.stats.selections == 0);
        CHECK(sum(selection_counts(s.get(), 1)) == 0);
    }
}

TEST_CASE("generation stats: a hash-routed layer counts exactly the experts its table assigns") {
    const std::string dir = golden_dir("v4-tiny");
    const json cfg = read_config(dir);
    REQUIRE(cfg["num_hash_layers"].get<int>() >= 1);
    const std::vector<int64_t> tid2eid = read_tid2eid(dir);
    const auto k = cfg["num_experts_per_tok"].get<std::size_t>();
    const auto experts = cfg["n_routed_experts"].get<std::size_t>();
    const auto prompt = read_tokens(dir);
    loaded_model m(dir);
    session_ptr s = new_session(m.get(), static_cast<uint32_t>(prompt.size() + 9));
    REQUIRE(mneme_session_feed_tokens(s.get(), prompt.data(), prompt.size(), nullptr) == MNEME_OK);
    const answer a = generate(s.get(), 8, 0);
    std::vector<uint64_t> expected(experts, 0);
    for (int32_t t : a.tokens) {
        for (std::size_t j = 0; j < k; ++j)
            ++expected[static_cast<std::size_t>(tid2eid[static_cast<std::size_t>(t) * k + j])];
    }
    const std::vector<uint64_t> counts = expert_counts(s.get());
    CHECK(std::vector<uint64_t>(counts.begin(), counts.begin() + static_cast<std::ptrdiff_t>(experts)) == expected);
}

TEST_CASE("generation stats: each indexer row selects min(index_topk, visible entries)") {
    for (const char* name : {"v32-tiny", "v4-tiny"}) {
        INFO(name);
        const std::string dir = golden_dir(name);
        const json cfg = read_config(dir);
        const bool v4 = cfg.contains("compress_ratios");
        const uint64_t entry = v4 ? 4 : 1, topk = cfg["index_topk"].get<uint64_t>();
        const uint64_t idx_layers = static_cast<uint64_t>(indexer_layers(cfg));
        REQUIRE(idx_layers > 0);
        const auto prompt = read_tokens(dir);
        loaded_model m(dir);
        const uint32_t n = 7;
        session_ptr s = new_session(m.get(), static_cast<uint32_t>(prompt.size() + n + 1));
        REQUIRE(mneme_session_feed_tokens(s.get(), prompt.data(), prompt.size(), nullptr) == MNEME_OK);
        const answer a = generate(s.get(), n, MNEME_GENERATE_COLLECT_SELECTIONS);
        CHECK(a.stats.selections_collected == MNEME_TRUE);
        CHECK(a.stats.n_indexer_layers == idx_layers);
        CHECK(a.stats.index_topk == topk);
        CHECK(a.stats.selection_entry_tokens == entry);

        // Generated token i is fed at position prompt + i and sees entries up to and including it.
        uint64_t expected = 0;
        for (uint64_t i = 0; i < n; ++i) expected += idx_layers * std::min(topk, (prompt.size() + i + 1) / entry);
        CHECK(a.stats.selection_rows == n * idx_layers);
        CHECK(a.stats.selections == expected);
        const std::vector<uint64_t> per_pos = selection_counts(s.get(), 1);
        REQUIRE(per_pos.size() == prompt.size() + n);
        CHECK(sum(per_pos) == expected * entry);
        for (uint64_t c : per_pos) CHECK(c <= n * idx_layers);
        // Buckets are sums of positions, the last one partial.
        const std::vector<uint64_t> buckets = selection_counts(s.get(), 5);
        REQUIRE(buckets.size() == (per_pos.size() + 4) / 5);
        for (std::size_t b = 0; b < buckets.size(); ++b) {
            uint64_t want = 0;
            for (std::size_t p = b * 5; p < std::min(per_pos.size(), b * 5 + 5); ++p) want += per_pos[p];
            CHECK(buckets[b] == want);
        }
        // Spans agree with the histogram and clamp at the context's end.
        const mneme_token_span spans[3] = {{0, 4}, {4, prompt.size()}, {prompt.size() + n, 100}};
        uint64_t by_span[3] = {};
        REQUIRE(mneme_session_last_selection_by_span(s.get(), spans, 3, by_span) == MNEME_OK);
        CHECK(by_span[0] == per_pos[0] + per_pos[1] + per_pos[2] + per_pos[3]);
        CHECK(by_span[0] + by_span[1] == sum(per_pos));
        CHECK(by_span[2] == 0);
    }
}

TEST_CASE("generation stats: with index_topk above the context every visible position is selected") {
    const std::string dir = golden_dir("v32-tiny");
    const json cfg = read_config(dir);
    const auto layers = cfg["num_hidden_layers"].get<uint64_t>();
    mneme_runtime_desc rd = MNEME_RUNTIME_DESC_INIT;
    rd.n_threads = 2;
    mneme_runtime* rt = nullptr;
    REQUIRE(mneme_runtime_create(&rd, &rt) == MNEME_OK);
    mneme_model_desc md = MNEME_MODEL_DESC_INIT;
    md.index_topk = 100000;
    mneme_model* model = nullptr;
    REQUIRE(mneme_model_open(rt, dir.c_str(), &md, &model) == MNEME_OK);
    {
        const auto prompt = read_tokens(dir);
        const uint32_t n = 5;
        session_ptr s = new_session(model, static_cast<uint32_t>(prompt.size() + n + 1));
        REQUIRE(mneme_session_feed_tokens(s.get(), prompt.data(), prompt.size(), nullptr) == MNEME_OK);
        (void)generate(s.get(), n, MNEME_GENERATE_COLLECT_SELECTIONS);
        const std::vector<uint64_t> per_pos = selection_counts(s.get(), 1);
        REQUIRE(per_pos.size() == prompt.size() + n);
        // Position j is seen by every generated token fed at or after it, in every layer.
        for (std::size_t j = 0; j < per_pos.size(); ++j) {
            uint64_t seen = 0;
            for (std::size_t i = 0; i < n; ++i) seen += prompt.size() + i >= j;
            INFO("position " << j);
            CHECK(per_pos[j] == seen * layers);
        }
    }
    mneme_model_destroy(model);
    mneme_runtime_destroy(rt);
}

TEST_CASE("generation stats: reset for each answer; the prompt is what was fed in between") {
    const std::string dir = golden_dir("v4-tiny");
    const json cfg = read_config(dir);
    const auto k = cfg["num_experts_per_tok"].get<uint64_t>();
    const auto prompt = read_tokens(dir);
    loaded_model m(dir);
    session_ptr s = new_session(m.get(), static_cast<uint32_t>(prompt.size() + 32));
    REQUIRE(mneme_session_feed_tokens(s.get(), prompt.data(), prompt.size(), nullptr) == MNEME_OK);
    const answer first = generate(s.get(), 6, MNEME_GENERATE_COLLECT_SELECTIONS);
    CHECK(first.stats.selections > 0);
    CHECK(first.stats.time_to_first_token_seconds >= 0);

    const int32_t more[3] = {prompt[0], prompt[1], prompt[2]};
    REQUIRE(mneme_session_feed_tokens(s.get(), more, 3, nullptr) == MNEME_OK);
    const answer second = generate(s.get(), 4, 0);
    CHECK(second.stats.prompt_tokens == 3);
    CHECK(second.stats.generated_tokens == 4);
    CHECK(second.stats.forwarded_tokens == 4);
    CHECK(second.stats.selections == 0);
    CHECK(sum(selection_counts(s.get(), 1)) == 0);
    const std::vector<uint64_t> counts = expert_counts(s.get());
    const auto experts = cfg["n_routed_experts"].get<std::size_t>();
    CHECK(std::accumulate(counts.begin(), counts.begin() + static_cast<std::ptrdiff_t>(experts), uint64_t{0}) == 4 * k);

    // A generate with no feed before it has an empty prompt.
    const answer third = generate(s.get(), 2, 0);
    CHECK(third.stats.prompt_tokens == 0);
}

TEST_CASE("generation stats: drafting counters match the generate result") {
    const std::string dir = golden_dir("v4-tiny");
    const json cfg = read_config(dir);
    const auto k = cfg["num_experts_per_tok"].get<uint64_t>();
    const auto experts = cfg["n_routed_experts"].get<std::size_t>();
    // A repetitive prompt gives the n-gram drafter something to propose.
    std::vector<int32_t> prompt;
    for (int r = 0; r < 6; ++r) {
        for (int32_t t : {5, 17, 42, 9, 77, 3}) prompt.push_back(t);
    }
    loaded_model m(dir);
    const uint32_t n = 24;
    session_ptr s = new_session(m.get(), static_cast<uint32_t>(prompt.size() + n + 1));
    REQUIRE(mneme_session_feed_tokens(s.get(), prompt.data(), prompt.size(), nullptr) == MNEME_OK);
    const answer a = generate(s.get(), n, 0, MNEME_DRAFT_NGRAM);
    CHECK(a.stats.draft_proposed == a.result.n_draft_proposed);
    CHECK(a.stats.draft_accepted == a.result.n_draft_accepted);
    CHECK(a.stats.drafted_tokens == a.result.n_drafted);
    CHECK(a.stats.forward_passes == a.result.n_forward_passes);
    if (a.result.n_draft_proposed) {
        CHECK(a.stats.draft_acceptance_rate ==
              Approx(static_cast<double>(a.result.n_draft_accepted) / static_cast<double>(a.result.n_draft_proposed)));
    }
    CHECK(a.stats.drafted_fraction == Approx(static_cast<double>(a.result.n_drafted) / n));
    // Verify passes evaluate the drafts too: at least one position per pass, every one routed.
    CHECK(a.stats.forwarded_tokens >= a.stats.forward_passes);
    const std::vector<uint64_t> counts = expert_counts(s.get());
    CHECK(std::accumulate(counts.begin(), counts.begin() + static_cast<std::ptrdiff_t>(experts), uint64_t{0}) ==
          a.stats.forwarded_tokens * k);
}

TEST_CASE("generation stats: argument checks and older struct sizes") {
    const std::string dir = golden_dir("v3-tiny");
    const auto prompt = read_tokens(dir);
    loaded_model m(dir);
    session_ptr s = new_session(m.get(), static_cast<uint32_t>(prompt.size() + 4));
    mneme_generation_stats st{};
    st.struct_size = sizeof(st);
    REQUIRE(mneme_session_last_generation_stats(s.get(), &st) == MNEME_OK);
    CHECK(st.generated_tokens == 0);
    CHECK(mneme_session_last_generation_stats(nullptr, &st) == MNEME_ERROR_INVALID_ARGUMENT);
    size_t n = 0;
    CHECK(mneme_session_last_expert_counts(s.get(), nullptr, 4, &n) == MNEME_ERROR_INVALID_ARGUMENT);
    REQUIRE(mneme_session_feed_tokens(s.get(), prompt.data(), prompt.size(), nullptr) == MNEME_OK);
    (void)generate(s.get(), 2, 0);
    uint64_t one = 0;
    CHECK(mneme_session_last_expert_counts(s.get(), &one, 1, &n) == MNEME_INCOMPLETE);
    CHECK(n > 1);
    // A caller built against a shorter struct gets only its bytes written.
    struct {
        mneme_generation_stats head;
        unsigned char guard[8];
    } small{};
    std::memset(&small, 0xAB, sizeof(small));
    small.head.struct_size = static_cast<uint32_t>(offsetof(mneme_generation_stats, generated_tokens));
    REQUIRE(mneme_session_last_generation_stats(s.get(), &small.head) == MNEME_OK);
    CHECK(small.head.prompt_tokens == prompt.size());
    unsigned char tail[sizeof(uint64_t)];
    std::memcpy(tail, &small.head.generated_tokens, sizeof(tail));
    for (unsigned char b : tail) CHECK(b == 0xAB);
}
