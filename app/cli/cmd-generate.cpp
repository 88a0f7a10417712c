// `mneme-cli generate` streams a continuation of a prompt; `mneme-cli tokenize` prints ids;
// `mneme-cli info` describes a model.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli-model.h"
#include "commands.h"

namespace mneme_cli {
namespace {

struct stream_state {
    bool ids = false;
    bool first = true;
};

mneme_bool MNEME_CALL on_token(void* user, const mneme_token_event* ev) {
    auto* s = static_cast<stream_state*>(user);
    if (s->ids) {
        std::printf("%s%d", s->first ? "" : ",", ev->token);
    } else if (ev->text_len) {
        std::fwrite(ev->text, 1, ev->text_len, stdout);
    }
    s->first = false;
    std::fflush(stdout);
    return MNEME_TRUE;
}

using clock_type = std::chrono::steady_clock;

template <class F>
std::vector<uint64_t> read_counts(F&& call) {
    size_t n = 0;
    if (call(nullptr, 0, &n) < 0) return {};
    std::vector<uint64_t> out(n);
    if (call(out.data(), out.size(), &n) != MNEME_OK) return {};
    return out;
}

// --stats: mneme_session_last_generation_stats and its arrays, on stderr next to the timing line.
void print_stats(mneme_session* s) {
    mneme_generation_stats g{};
    g.struct_size = sizeof(g);
    if (mneme_session_last_generation_stats(s, &g) != MNEME_OK) return;
    const auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
    std::fprintf(stderr, "stats: prompt %llu tokens (%llu from snapshots), first token after %.3f s\n",
                 u(g.prompt_tokens), u(g.prompt_tokens_reused), g.time_to_first_token_seconds);
    std::fprintf(stderr, "stats: %llu tokens in %.3f s (%.1f tokens/s), %llu passes over %llu positions\n",
                 u(g.generated_tokens), g.decode_seconds, g.decode_tokens_per_second, u(g.forward_passes),
                 u(g.forwarded_tokens));
    std::fprintf(stderr, "stats: drafts %llu proposed, %llu accepted (%.1f%%), %.1f%% of the output\n",
                 u(g.draft_proposed), u(g.draft_accepted), 100.0 * g.draft_acceptance_rate, 100.0 * g.drafted_fraction);
    if (g.engram_from_store) {
        const uint64_t lookups = g.engram_hits + g.engram_misses;
        std::fprintf(stderr,
                     "stats: Engram %llu hits, %llu misses (hit rate %.1f%%), %llu bytes read, stalled %.3f s\n",
                     u(g.engram_hits), u(g.engram_misses),
                     lookups ? 100.0 * static_cast<double>(g.engram_hits) / static_cast<double>(lookups) : 0.0,
                     u(g.engram_bytes_read), g.engram_stall_seconds);
    }
    const std::vector<uint64_t> experts =
        read_counts([&](uint64_t* c, size_t cap, size_t* n) { return mneme_session_last_expert_counts(s, c, cap, n); });
    for (uint32_t l = 0; g.n_experts && l < g.n_layers && (l + 1) * g.n_experts <= experts.size(); ++l) {
        std::fprintf(stderr, "stats: layer %u experts:", l);
        for (uint32_t e = 0; e < g.n_experts; ++e) std::fprintf(stderr, " %llu", u(experts[l * g.n_experts + e]));
        std::fprintf(stderr, "\n");
    }
    if (!g.n_indexer_layers) return;
    if (!g.selections_collected) {
        std::fprintf(stderr, "stats: sparse selections not collected\n");
        return;
    }
    std::fprintf(stderr, "stats: %u indexer layers, top-%u of %u-token entries: %llu selections over %llu rows\n",
                 g.n_indexer_layers, g.index_topk, g.selection_entry_tokens, u(g.selections), u(g.selection_rows));
    // Ten buckets over the context: where in the prompt the attention looked.
    const uint32_t bucket = static_cast<uint32_t>(std::max<uint64_t>(1, (g.context_tokens + 9) / 10));
    const std::vector<uint64_t> hist = read_counts(
        [&](uint64_t* c, size_t cap, size_t* n) { return mneme_session_last_selection_counts(s, bucket, c, cap, n); });
    std::fprintf(stderr, "stats: selections per %u positions:", bucket);
    for (uint64_t c : hist) std::fprintf(stderr, " %llu", u(c));
    std::fprintf(stderr, "\n");
}

}  // namespace

int cmd_generate(const args& a) {
    auto known = model_option_names();
    for (const char* n : {"prompt", "tokens", "max-tokens", "temp", "seed", "top-k", "top-p", "min-p", "repeat-penalty",
                          "ids", "ctx", "chat", "stop", "draft", "draft-threshold", "draft-max", "stats"}) {
        known.emplace_back(n);
    }
    a.allow_only(known);
    if (a.has("prompt") == a.has("tokens")) throw usage_error{"give exactly one of --prompt and --tokens"};

    opened_model opened = open_runtime_and_model(a);
    if (!opened) return 1;
    mneme_model* m = opened.model.get();

    std::vector<int32_t> prompt;
    if (a.has("tokens")) {
        prompt = parse_token_list(*a.get("tokens"));
    } else {
        std::string text = *a.get("prompt");
        if (a.has("chat")) {
            mneme_chat_message msg{"user", text.c_str()};
            size_t len = 0;
            mneme_status st = mneme_chat_render(m, &msg, 1, MNEME_TRUE, nullptr, 0, &len);
            if (st < 0) return report_failure("chat format", st);
            std::string rendered(len, '\0');
            st = mneme_chat_render(m, &msg, 1, MNEME_TRUE, rendered.data(), rendered.size(), &len);
            if (st != MNEME_OK) return report_failure("chat format", st);
            text = rendered;
        }
        size_t n = 0;
        const uint32_t flags = MNEME_TOKENIZE_PARSE_SPECIAL | (a.has("chat") ? 0u : MNEME_TOKENIZE_ADD_BOS);
        mneme_status st = mneme_tokenize(m, text.c_str(), text.size(), flags, nullptr, 0, &n);
        if (st != MNEME_OK && st != MNEME_INCOMPLETE) return report_failure("tokenize", st);
        prompt.resize(n);
        st = mneme_tokenize(m, text.c_str(), text.size(), flags, prompt.data(), prompt.size(), &n);
        if (st != MNEME_OK) return report_failure("tokenize", st);
    }

    mneme_sampling_params sp = MNEME_SAMPLING_PARAMS_INIT;
    sp.temperature = static_cast<float>(a.get_double("temp", 0.0));
    sp.seed = static_cast<uint64_t>(a.get_int("seed", 0));
    sp.top_k = static_cast<int32_t>(a.get_int("top-k", 0));
    sp.top_p = static_cast<float>(a.get_double("top-p", 1.0));
    sp.min_p = static_cast<float>(a.get_double("min-p", 0.0));
    sp.repetition_penalty = static_cast<float>(a.get_double("repeat-penalty", 1.0));
    const long long max_tokens = a.get_int("max-tokens", 64);
    mneme_session_desc sd = MNEME_SESSION_DESC_INIT;
    sd.n_ctx = static_cast<uint32_t>(a.get_int("ctx", static_cast<long long>(prompt.size()) + max_tokens + 1));
    sd.sampling = &sp;
    mneme_session* s = nullptr;
    mneme_status st = mneme_session_create(m, &sd, &s);
    if (st != MNEME_OK) return report_failure("cannot create session", st);
    std::unique_ptr<mneme_session, void (*)(mneme_session*)> s_guard(s, mneme_session_destroy);

    const auto t0 = clock_type::now();
    st = mneme_session_feed_tokens(s, prompt.data(), prompt.size(), nullptr);
    if (st != MNEME_OK) return report_failure("prefill", st);
    const double prefill_s = std::chrono::duration<double>(clock_type::now() - t0).count();

    stream_state ss;
    ss.ids = a.has("ids");
    const std::string stop = a.get_or("stop", "");
    const char* stops[1] = {stop.c_str()};
    mneme_generate_desc gd = MNEME_GENERATE_DESC_INIT;
    gd.max_tokens = static_cast<uint32_t>(max_tokens);
    gd.token_fn = on_token;
    gd.token_user_data = &ss;
    if (!stop.empty()) {
        gd.stop_strings = stops;
        gd.n_stop_strings = 1;
    }
    const std::string draft = a.get_or("draft", "none");
    if (draft == "ngram") {
        gd.draft = MNEME_DRAFT_NGRAM;
    } else if (draft != "none") {
        throw usage_error{"--draft must be ngram or none"};
    }
    gd.draft_threshold = static_cast<float>(a.get_double("draft-threshold", 0.0));
    gd.draft_max = static_cast<uint32_t>(a.get_int("draft-max", 0));
    if (a.has("stats")) gd.flags |= MNEME_GENERATE_COLLECT_SELECTIONS;
    mneme_generate_result r{};
    r.struct_size = sizeof(r);
    st = mneme_session_generate(s, &gd, &r);
    std::printf("\n");
    if (st < 0) return report_failure("generation", st);
    std::fprintf(stderr, "prefill: %zu tokens, %.1f tokens/s; decode: %llu tokens, %.1f tokens/s\n", prompt.size(),
                 prefill_s > 0 ? static_cast<double>(prompt.size()) / prefill_s : 0.0,
                 static_cast<unsigned long long>(r.n_tokens),
                 r.decode_seconds > 0 ? static_cast<double>(r.n_tokens) / r.decode_seconds : 0.0);
    if (gd.draft == MNEME_DRAFT_NGRAM) {
        std::fprintf(stderr, "drafts: %llu proposed, %llu accepted (acceptance %.1f%%); %.1f%% of output tokens from drafts; %llu forward passes\n",
                     static_cast<unsigned long long>(r.n_draft_proposed), static_cast<unsigned long long>(r.n_draft_accepted),
                     r.n_draft_proposed ? 100.0 * static_cast<double>(r.n_draft_accepted) / static_cast<double>(r.n_draft_proposed) : 0.0,
                     r.n_tokens ? 100.0 * static_cast<double>(r.n_drafted) / static_cast<double>(r.n_tokens) : 0.0,
                     static_cast<unsigned long long>(r.n_forward_passes));
    }
    if (a.has("stats")) print_stats(s);
    return 0;
}

int cmd_tokenize(const args& a) {
    auto known = model_option_names();
    known.emplace_back("text");
    known.emplace_back("bos");
    a.allow_only(known);
    const std::string text = a.require("text");
    opened_model opened = open_runtime_and_model(a);
    if (!opened) return 1;
    mneme_model* m = opened.model.get();
    const uint32_t flags = MNEME_TOKENIZE_PARSE_SPECIAL | (a.has("bos") ? MNEME_TOKENIZE_ADD_BOS : 0u);
    size_t n = 0;
    mneme_status st = mneme_tokenize(m, text.c_str(), text.size(), flags, nullptr, 0, &n);
    if (st != MNEME_OK && st != MNEME_INCOMPLETE) return report_failure("tokenize", st);
    std::vector<int32_t> ids(n);
    st = mneme_tokenize(m, text.c_str(), text.size(), flags, ids.data(), ids.size(), &n);
    if (st != MNEME_OK) return report_failure("tokenize", st);
    for (size_t i = 0; i < ids.size(); ++i) std::printf("%s%d", i ? "," : "", ids[i]);
    std::printf("\n");
    return 0;
}

int cmd_info(const args& a) {
    auto known = model_option_names();
    known.emplace_back("context");
    a.allow_only(known);
    opened_model opened = open_runtime_and_model(a);
    if (!opened) return 1;
    mneme_model* m = opened.model.get();
    mneme_model_info info{};
    info.struct_size = sizeof(info);
    mneme_status st = mneme_model_get_info(m, &info);
    if (st != MNEME_OK) return report_failure("model info", st);
    const double mib = 1024.0 * 1024.0;
    std::printf("architecture: %s\nbackend: %s\nlayers: %u, hidden: %u, vocab: %u, max context: %u\n",
                info.architecture_name, info.backend, info.n_layers, info.hidden_size, info.vocab_size,
                info.max_context);
    std::printf("parameters: %llu\nweights: %.2f MiB as stored\ncache: %llu bytes per token\ntokenizer: %s\n",
                static_cast<unsigned long long>(info.n_params), static_cast<double>(info.weights_bytes) / mib,
                static_cast<unsigned long long>(info.cache_bytes_per_token), info.has_tokenizer ? "yes" : "no");
    const uint64_t ctx = static_cast<uint64_t>(a.get_int("context", 4096));
    mneme_memory_plan plan{};
    plan.struct_size = sizeof(plan);
    if (mneme_model_plan(m, ctx, &plan) == MNEME_OK) {
        std::printf("weights by format: FP8 %.2f MiB, FP4 %.2f MiB, BF16/F16 %.2f MiB, F32+tables %.2f MiB\n",
                    static_cast<double>(plan.weights_fp8_bytes) / mib, static_cast<double>(plan.weights_fp4_bytes) / mib,
                    static_cast<double>(plan.weights_bf16_bytes) / mib, static_cast<double>(plan.weights_f32_bytes) / mib);
        std::printf("caches: %.2f MiB per 1K tokens\nEngram tables: %.2f MiB\n",
                    static_cast<double>(plan.cache_bytes_per_token) * 1024.0 / mib, static_cast<double>(plan.engram_bytes) / mib);
        std::printf("memory for %llu tokens: weights %.2f MiB + cache %.2f MiB + Engram %.2f MiB + scratch %.2f MiB = %.2f MiB\n",
                    static_cast<unsigned long long>(ctx), static_cast<double>(plan.weights_bytes) / mib,
                    static_cast<double>(plan.cache_bytes) / mib, static_cast<double>(plan.engram_bytes) / mib,
                    static_cast<double>(plan.scratch_bytes) / mib, static_cast<double>(plan.total_bytes) / mib);
    }
    return 0;
}

}  // namespace mneme_cli
