// `mneme-cli bench context`: prefill speed, decode step time and cache bytes per token at growing
// context lengths, with sparse selection and (as a baseline in the same run) without it.
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cli-model.h"
#include "commands.h"

namespace mneme_cli {
namespace {

using clock_type = std::chrono::steady_clock;

struct row {
    uint64_t length = 0;
    double prefill_tps = 0, decode_ms = 0, dense_decode_ms = -1, dense_prefill_tps = -1;
    uint64_t cache_bytes_per_token = 0;
};

struct measured {
    double prefill_tps = 0, decode_ms = 0;
};

measured run_length(mneme_model* m, uint64_t length, uint32_t vocab, int decode_steps) {
    std::mt19937 rng(static_cast<uint32_t>(length));
    std::uniform_int_distribution<int32_t> tok(3, static_cast<int32_t>(vocab) - 1);
    std::vector<int32_t> prompt(length);
    for (auto& t : prompt) t = tok(rng);
    mneme_session_desc sd = MNEME_SESSION_DESC_INIT;
    sd.n_ctx = static_cast<uint32_t>(length + static_cast<uint64_t>(decode_steps) + 1);
    mneme_session* s = nullptr;
    if (mneme_session_create(m, &sd, &s) != MNEME_OK) throw std::runtime_error(mneme_last_error_message());
    std::unique_ptr<mneme_session, void (*)(mneme_session*)> guard(s, mneme_session_destroy);
    mneme_feed_desc fd = MNEME_FEED_DESC_INIT;
    fd.chunk_size = 512;
    auto t0 = clock_type::now();
    if (mneme_session_feed_tokens(s, prompt.data(), prompt.size(), &fd) != MNEME_OK) {
        throw std::runtime_error(mneme_last_error_message());
    }
    measured r;
    r.prefill_tps = static_cast<double>(length) / std::chrono::duration<double>(clock_type::now() - t0).count();
    mneme_generate_desc gd = MNEME_GENERATE_DESC_INIT;
    gd.max_tokens = static_cast<uint32_t>(decode_steps);
    gd.stop_at_eos = MNEME_FALSE;
    mneme_generate_result res{};
    res.struct_size = sizeof(res);
    if (mneme_session_generate(s, &gd, &res) < 0) throw std::runtime_error(mneme_last_error_message());
    r.decode_ms = res.n_tokens ? 1000.0 * res.decode_seconds / static_cast<double>(res.n_tokens) : 0.0;
    return r;
}

std::vector<uint64_t> parse_lengths(const std::string& s) {
    std::vector<uint64_t> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) out.push_back(std::stoull(item));
    return out;
}

}  // namespace

int cmd_bench_context(const args& a) {
    auto known = model_option_names();
    for (const char* n : {"lengths", "json", "decode-steps", "dense-max"}) known.emplace_back(n);
    a.allow_only(known);
    const auto lengths = parse_lengths(a.get_or("lengths", "1024,4096"));
    const int steps = static_cast<int>(a.get_int("decode-steps", 16));
    const uint64_t dense_max = static_cast<uint64_t>(a.get_int("dense-max", 1 << 30));
    opened_model opened = open_runtime_and_model(a);
    if (!opened) return 1;
    mneme_model* sparse = opened.model.get();

    // The dense baseline: the same weights with a top-k larger than any context.
    mneme_model_desc dd = MNEME_MODEL_DESC_INIT;
    dd.index_topk = 0x7fffffff;
    const std::string backend = a.get_or("backend", "");
    if (!backend.empty()) dd.backend = backend.c_str();
    mneme_model* dense = nullptr;
    const std::string path = a.require("model");
    if (mneme_model_open(opened.runtime.get(), path.c_str(), &dd, &dense) != MNEME_OK) return report_failure("open dense baseline", MNEME_ERROR_INTERNAL);
    std::unique_ptr<mneme_model, void (*)(mneme_model*)> d_guard(dense, mneme_model_destroy);

    mneme_model_info info{};
    info.struct_size = sizeof(info);
    if (mneme_model_get_info(sparse, &info) != MNEME_OK) return report_failure("info", MNEME_ERROR_INTERNAL);
    std::vector<row> rows;
    for (uint64_t len : lengths) {
        row r;
        r.length = len;
        r.cache_bytes_per_token = info.cache_bytes_per_token;
        const measured sm = run_length(sparse, len, info.vocab_size, steps);
        r.prefill_tps = sm.prefill_tps;
        r.decode_ms = sm.decode_ms;
        if (len <= dense_max) {
            const measured dm = run_length(dense, len, info.vocab_size, steps);
            r.dense_prefill_tps = dm.prefill_tps;
            r.dense_decode_ms = dm.decode_ms;
        }
        if (!a.has("json")) {
            std::fprintf(stderr, "length %8llu: prefill %8.1f tok/s, decode %8.2f ms/token, dense decode %8.2f ms/token\n",
                         static_cast<unsigned long long>(len), r.prefill_tps, r.decode_ms, r.dense_decode_ms);
        }
        rows.push_back(r);
    }
    if (a.has("json")) {
        std::printf("{\"model\": \"%s\", \"architecture\": \"%s\", \"rows\": [", path.c_str(), info.architecture_name);
        for (size_t i = 0; i < rows.size(); ++i) {
            const row& r = rows[i];
            std::printf("%s{\"length\": %llu, \"prefill_tps\": %.2f, \"decode_ms\": %.3f, \"cache_bytes_per_token\": %llu, "
                        "\"dense_decode_ms\": %.3f, \"dense_prefill_tps\": %.2f}",
                        i ? ", " : "", static_cast<unsigned long long>(r.length), r.prefill_tps, r.decode_ms,
                        static_cast<unsigned long long>(r.cache_bytes_per_token), r.dense_decode_ms, r.dense_prefill_tps);
        }
        std::printf("]}\n");
    } else {
        std::printf("%10s %12s %12s %12s %14s %16s\n", "length", "prefill t/s", "decode ms", "dense ms", "cache B/token",
                    "sparse speed-up");
        for (const row& r : rows) {
            std::printf("%10llu %12.1f %12.2f %12.2f %14llu %15.2fx\n", static_cast<unsigned long long>(r.length),
                        r.prefill_tps, r.decode_ms, r.dense_decode_ms, static_cast<unsigned long long>(r.cache_bytes_per_token),
                        r.dense_decode_ms > 0 ? r.dense_decode_ms / r.decode_ms : 0.0);
        }
    }
    return 0;
}

}  // namespace mneme_cli
