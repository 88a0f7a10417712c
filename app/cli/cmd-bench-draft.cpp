// `mneme-cli bench draft`: decode speed with and without lossless n-gram drafting, in the same run,
// on a code-editing workload ("repeat this code with one identifier renamed"), and whether the two
// outputs are identical (they must be: greedy decoding).
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli-model.h"
#include "commands.h"

namespace mneme_cli {
namespace {

constexpr const char* k_snippet =
    "int count_words(const char* text) {\n"
    "    int count = 0;\n"
    "    bool in_word = false;\n"
    "    for (const char* p = text; *p; ++p) {\n"
    "        if (*p == ' ' || *p == '\\n') {\n"
    "            in_word = false;\n"
    "        } else if (!in_word) {\n"
    "            in_word = true;\n"
    "            ++count;\n"
    "        }\n"
    "    }\n"
    "    return count;\n"
    "}\n";

std::vector<int32_t> tokenize(mneme_model* m, const std::string& text) {
    size_t n = 0;
    (void)mneme_tokenize(m, text.c_str(), text.size(), MNEME_TOKENIZE_ADD_BOS, nullptr, 0, &n);
    std::vector<int32_t> out(n);
    if (mneme_tokenize(m, text.c_str(), text.size(), MNEME_TOKENIZE_ADD_BOS, out.data(), out.size(), &n) != MNEME_OK) {
        throw std::runtime_error(mneme_last_error_message());
    }
    return out;
}

// With a tokenizer: the snippet, the instruction, and the start of the answer. Without one (tiny
// fixtures): the same shape in token ids, a random "snippet" whose second copy renames one token.
std::vector<int32_t> workload(mneme_model* m, const mneme_model_info& info) {
    if (info.has_tokenizer) {
        const std::string s = k_snippet;
        std::string renamed = s;
        for (std::size_t at; (at = renamed.find("in_word")) != std::string::npos;) renamed.replace(at, 7, "inside");
        return tokenize(m, s + "\nRepeat this code with in_word renamed to inside.\n\n" +
                               renamed.substr(0, renamed.size() / 3));
    }
    std::mt19937 rng(11);
    std::uniform_int_distribution<int32_t> pick(3, static_cast<int32_t>(info.vocab_size) - 1);
    std::vector<int32_t> snippet(48);
    for (auto& t : snippet) t = pick(rng);
    std::vector<int32_t> out = snippet;
    const int32_t old_id = snippet[5], new_id = pick(rng);
    for (int k = 0; k < 2; ++k) {
        for (int32_t t : snippet) out.push_back(t == old_id ? new_id : t);
    }
    return out;
}

struct run_result {
    std::vector<int32_t> tokens;
    double seconds = 0;
    mneme_generate_result r{};
};

mneme_bool MNEME_CALL collect(void* user, const mneme_token_event* ev) {
    static_cast<std::vector<int32_t>*>(user)->push_back(ev->token);
    return MNEME_TRUE;
}

run_result run(mneme_model* m, const std::vector<int32_t>& prompt, uint32_t n, bool draft, double threshold,
               uint32_t draft_max) {
    mneme_session_desc sd = MNEME_SESSION_DESC_INIT;
    sd.n_ctx = static_cast<uint32_t>(prompt.size() + n + 1);
    mneme_session* s = nullptr;
    if (mneme_session_create(m, &sd, &s) != MNEME_OK) throw std::runtime_error(mneme_last_error_message());
    std::unique_ptr<mneme_session, void (*)(mneme_session*)> guard(s, mneme_session_destroy);
    if (mneme_session_feed_tokens(s, prompt.data(), prompt.size(), nullptr) != MNEME_OK) {
        throw std::runtime_error(mneme_last_error_message());
    }
    run_result out;
    mneme_generate_desc gd = MNEME_GENERATE_DESC_INIT;
    gd.max_tokens = n;
    gd.stop_at_eos = MNEME_FALSE;
    gd.token_fn = collect;
    gd.token_user_data = &out.tokens;
    gd.draft = draft ? MNEME_DRAFT_NGRAM : MNEME_DRAFT_NONE;
    gd.draft_threshold = static_cast<float>(threshold);
    gd.draft_max = draft_max;
    out.r.struct_size = sizeof(out.r);
    if (mneme_session_generate(s, &gd, &out.r) < 0) throw std::runtime_error(mneme_last_error_message());
    out.seconds = out.r.decode_seconds;
    return out;
}

}  // namespace

int cmd_bench_draft(const args& a) {
    auto names = model_option_names();
    for (const char* n : {"tokens", "json", "draft-threshold", "draft-max"}) names.emplace_back(n);
    a.allow_only(names);
    opened_model opened = open_runtime_and_model(a);
    if (!opened) return 1;
    mneme_model* m = opened.model.get();
    mneme_model_info info{};
    info.struct_size = sizeof(info);
    if (mneme_model_get_info(m, &info) != MNEME_OK) return report_failure("model info", MNEME_ERROR_INTERNAL);

    const auto prompt = workload(m, info);
    const uint32_t n = static_cast<uint32_t>(a.get_int("tokens", 96));
    const double threshold = a.get_double("draft-threshold", 0.0);
    const uint32_t dmax = static_cast<uint32_t>(a.get_int("draft-max", 0));
    const run_result plain = run(m, prompt, n, false, threshold, dmax);
    const run_result drafted = run(m, prompt, n, true, threshold, dmax);
    const double tps_plain = plain.seconds > 0 ? static_cast<double>(plain.tokens.size()) / plain.seconds : 0.0;
    const double tps_draft = drafted.seconds > 0 ? static_cast<double>(drafted.tokens.size()) / drafted.seconds : 0.0;
    const double speedup = tps_plain > 0 ? tps_draft / tps_plain : 0.0;
    const auto& r = drafted.r;
    const double acceptance = r.n_draft_proposed ? static_cast<double>(r.n_draft_accepted) / static_cast<double>(r.n_draft_proposed) : 0.0;
    const double fraction = r.n_tokens ? static_cast<double>(r.n_drafted) / static_cast<double>(r.n_tokens) : 0.0;
    const bool identical = plain.tokens == drafted.tokens;
    if (a.has("json")) {
        std::printf(
            "{\"prompt_tokens\": %zu, \"output_tokens\": %zu, \"plain_tokens_per_s\": %.3f, \"draft_tokens_per_s\": %.3f, "
            "\"speedup\": %.4f, \"acceptance_rate\": %.4f, \"draft_token_fraction\": %.4f, \"forward_passes\": %llu, "
            "\"identical\": %s}\n",
            prompt.size(), drafted.tokens.size(), tps_plain, tps_draft, speedup, acceptance, fraction,
            static_cast<unsigned long long>(r.n_forward_passes), identical ? "true" : "false");
    } else {
        std::printf("decode: %.2f tokens/s plain, %.2f tokens/s with n-gram drafting: speedup %.2fx\n", tps_plain,
                    tps_draft, speedup);
        std::printf("drafts: acceptance %.1f%%, %.1f%% of output tokens from drafts, %llu forward passes for %zu tokens; "
                    "outputs %s\n",
                    100.0 * acceptance, 100.0 * fraction, static_cast<unsigned long long>(r.n_forward_passes),
                    drafted.tokens.size(), identical ? "identical" : "DIFFER");
    }
    return identical ? 0 : 1;
}

}  // namespace mneme_cli
