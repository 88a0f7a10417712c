// `mneme-cli engram import` (checkpoint tables into a store), `mneme-cli engram profile` (the rows a
// text reads, to warm the cache) and `mneme-cli bench engram` (decode step time with the tables
// served from a store through a small cache versus the whole table in RAM).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli-model.h"
#include "commands.h"

namespace mneme_cli {
namespace {

using clock_type = std::chrono::steady_clock;

mneme_bool MNEME_CALL print_progress(void*, const mneme_progress* p) {
    std::fprintf(stderr, "\rimporting Engram tables: %6.1f / %.1f MiB", static_cast<double>(p->done) / 1048576.0,
                 static_cast<double>(p->total) / 1048576.0);
    if (p->done == p->total) std::fprintf(stderr, "\n");
    return MNEME_TRUE;
}

// Token ids with Zipfian frequencies (exponent 1.1) over a shuffled vocabulary: the statistics of
// text, so a step's n-grams repeat as they do in real prompts and the hot rows stay hot.
std::vector<int32_t> zipf_tokens(uint32_t vocab, std::size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<int32_t> ids(vocab);
    for (uint32_t i = 0; i < vocab; ++i) ids[i] = static_cast<int32_t>(i);
    std::shuffle(ids.begin(), ids.end(), rng);
    std::vector<double> w(vocab);
    for (uint32_t i = 0; i < vocab; ++i) w[i] = 1.0 / std::pow(static_cast<double>(i + 1), 1.1);
    std::discrete_distribution<uint32_t> pick(w.begin(), w.end());
    std::vector<int32_t> out(n);
    for (auto& t : out) t = ids[pick(rng)];
    return out;
}

// The tokens of a text file, or of a folder rendered as the chat renders a codebase.
std::vector<int32_t> text_tokens(mneme_model* m, const std::string& path) {
    std::string text;
    if (std::filesystem::is_regular_file(path)) {
        std::ifstream in(path, std::ios::binary);
        text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        if (!in.good() && !in.eof()) throw std::runtime_error("cannot read " + path);
    } else {
        mneme_codebase* cb = nullptr;
        if (mneme_codebase_scan(m, path.c_str(), nullptr, &cb) != MNEME_OK) {
            throw std::runtime_error("cannot read " + path + ": " + mneme_last_error_message());
        }
        std::unique_ptr<mneme_codebase, void (*)(mneme_codebase*)> guard(cb, mneme_codebase_destroy);
        size_t len = 0;
        (void)mneme_codebase_render(cb, nullptr, 0, &len);
        text.resize(len);
        if (mneme_codebase_render(cb, text.data(), text.size(), &len) != MNEME_OK) {
            throw std::runtime_error(path + ": " + mneme_last_error_message());
        }
    }
    size_t n = 0;
    (void)mneme_tokenize(m, text.data(), text.size(), MNEME_TOKENIZE_ADD_BOS, nullptr, 0, &n);
    std::vector<int32_t> out(n);
    if (mneme_tokenize(m, text.data(), text.size(), MNEME_TOKENIZE_ADD_BOS, out.data(), out.size(), &n) != MNEME_OK) {
        throw std::runtime_error(path + ": tokenize: " + mneme_last_error_message());
    }
    return out;
}

uint64_t profile_text(mneme_model* m, const std::vector<int32_t>& tokens) {
    uint64_t distinct = 0;
    if (mneme_model_engram_profile(m, tokens.data(), tokens.size(), &distinct) != MNEME_OK) {
        throw std::runtime_error(std::string("Engram profile: ") + mneme_last_error_message());
    }
    return distinct;
}

struct session_ptr {
    mneme_session* s = nullptr;
    ~session_ptr() { mneme_session_destroy(s); }
};

// Feeds the tokens one at a time (decode steps) and returns each step's seconds.
std::vector<double> decode_steps(mneme_model* m, const std::vector<int32_t>& tokens) {
    mneme_session_desc sd = MNEME_SESSION_DESC_INIT;
    sd.n_ctx = static_cast<uint32_t>(tokens.size() + 1);
    session_ptr s;
    if (mneme_session_create(m, &sd, &s.s) != MNEME_OK) throw std::runtime_error(mneme_last_error_message());
    mneme_feed_desc fd = MNEME_FEED_DESC_INIT;
    fd.logits = MNEME_LOGITS_LAST;
    std::vector<double> out;
    for (int32_t t : tokens) {
        const auto t0 = clock_type::now();
        if (mneme_session_feed_tokens(s.s, &t, 1, &fd) != MNEME_OK)
            throw std::runtime_error(mneme_last_error_message());
        out.push_back(std::chrono::duration<double>(clock_type::now() - t0).count());
    }
    return out;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

}  // namespace

int cmd_engram_import(const args& a) {
    auto names = runtime_option_names();
    for (const char* n : {"model", "store", "quiet"}) names.emplace_back(n);
    a.allow_only(names);
    const std::string model = a.require("model"), store = a.require("store");
    mneme_runtime* rt = open_runtime(a);
    if (!rt) return 1;
    const mneme_status st =
        mneme_engram_import(rt, model.c_str(), store.c_str(), a.has("quiet") ? nullptr : print_progress, nullptr);
    mneme_runtime_destroy(rt);
    if (st != MNEME_OK) return report_failure("Engram import into " + store, st);
    std::printf("imported the Engram tables of %s into %s\n", model.c_str(), store.c_str());
    return 0;
}

int cmd_engram_profile(const args& a) {
    auto names = model_option_names();
    for (const char* n : {"store", "cache-mb", "text"}) names.emplace_back(n);
    a.allow_only(names);
    const std::string store = a.require("store"), path = a.require("text");
    opened_model opened = open_runtime_and_model(a);
    if (!opened) return 1;
    mneme_model* m = open_model(opened.runtime.get(), a, store.c_str(),
                                static_cast<uint64_t>(a.get_double("cache-mb", 16.0) * 1048576.0));
    if (!m) return 1;
    std::unique_ptr<mneme_model, void (*)(mneme_model*)> guard(m, mneme_model_destroy);
    const auto tokens = text_tokens(m, path);
    const uint64_t distinct = profile_text(m, tokens);
    std::printf("profiled %zu tokens of %s: %llu different Engram rows; the store warms its cache from them\n",
                tokens.size(), path.c_str(), static_cast<unsigned long long>(distinct));
    return 0;
}

int cmd_bench_engram(const args& a) {
    auto names = model_option_names();
    for (const char* n : {"store", "cache-mb", "steps", "rounds", "json", "seed", "text", "profile-text"})
        names.emplace_back(n);
    a.allow_only(names);
    const std::string store = a.require("store");
    const double cache_mb = a.get_double("cache-mb", 1.0);
    const int steps = static_cast<int>(a.get_int("steps", 64)), rounds = static_cast<int>(a.get_int("rounds", 3));
    opened_model opened = open_runtime_and_model(a);
    if (!opened) return 1;
    mneme_model* ram = opened.model.get();
    const std::string store_opt = store;
    mneme_model* disk =
        open_model(opened.runtime.get(), a, store_opt.c_str(), static_cast<uint64_t>(cache_mb * 1048576.0));
    if (!disk) return 1;
    std::unique_ptr<mneme_model, void (*)(mneme_model*)> disk_guard(disk, mneme_model_destroy);

    mneme_model_info info{};
    info.struct_size = sizeof(info);
    if (mneme_model_get_info(ram, &info) != MNEME_OK) return report_failure("model info", MNEME_ERROR_INTERNAL);
    // A profile of another text (e.g. other files of the same codebase) warms the cache first.
    uint64_t profile_tokens = 0;
    if (const auto p = a.get("profile-text")) {
        const auto tokens = text_tokens(disk, *p);
        profile_tokens = tokens.size();
        (void)profile_text(disk, tokens);
    }
    mneme_engram_stats st0{};
    st0.struct_size = sizeof(st0);
    if (mneme_model_engram_stats(disk, &st0) != MNEME_OK) return report_failure("Engram stats", MNEME_ERROR_INTERNAL);
    // Real text (--text) when given, else Zipfian token ids.
    std::vector<int32_t> corpus;
    if (const auto t = a.get("text")) corpus = text_tokens(disk, *t);
    const auto round_text = [&](int r) {
        if (corpus.empty()) {
            return zipf_tokens(info.vocab_size, static_cast<std::size_t>(steps),
                               static_cast<uint32_t>(a.get_int("seed", 1) + r));
        }
        std::vector<int32_t> out;
        for (std::size_t i = 0; i < static_cast<std::size_t>(steps); ++i) {
            out.push_back(corpus[(static_cast<std::size_t>(r) * static_cast<std::size_t>(steps) + i) % corpus.size()]);
        }
        return out;
    };
    // Both models decode the same text; rounds interleave them, each going first in every other
    // round, so drift in machine load hits both alike.
    std::vector<double> t_ram, t_disk;
    for (int r = 0; r < rounds; ++r) {
        const auto text = round_text(r);
        std::vector<double> x, y;
        if (r % 2 == 0) {
            x = decode_steps(ram, text);
            y = decode_steps(disk, text);
        } else {
            y = decode_steps(disk, text);
            x = decode_steps(ram, text);
        }
        t_ram.insert(t_ram.end(), x.begin(), x.end());
        t_disk.insert(t_disk.end(), y.begin(), y.end());
    }
    mneme_engram_stats st{};
    st.struct_size = sizeof(st);
    if (mneme_model_engram_stats(disk, &st) != MNEME_OK) return report_failure("Engram stats", MNEME_ERROR_INTERNAL);
    // The measured steps only: not the reads that warmed the cache.
    st.hits -= st0.hits;
    st.misses -= st0.misses;
    st.bytes_read -= st0.bytes_read;
    const double ram_ms = 1000.0 * median(t_ram), disk_ms = 1000.0 * median(t_disk);
    const double overhead = ram_ms > 0 ? 100.0 * (disk_ms - ram_ms) / ram_ms : 0.0;
    // The part of a step the forward pass spent in the store's gathers (cache lookups, copies and
    // waiting for reads): the store's own cost, unlike the difference of medians free of load noise.
    const double steps_n = st.steps ? static_cast<double>(st.steps) : 1.0;
    const double stall_pct = ram_ms > 0 ? 100.0 * (1000.0 * st.stall_seconds / steps_n) / ram_ms : 0.0;
    const double lookups = static_cast<double>(st.hits + st.misses);
    const double hit_rate = lookups > 0 ? static_cast<double>(st.hits) / lookups : 0.0;
    if (a.has("json")) {
        std::printf(
            "{\"ram_step_ms\": %.4f, \"store_step_ms\": %.4f, \"overhead_pct\": %.3f, \"hit_rate\": %.4f, "
            "\"table_bytes\": %llu, \"cache_bytes\": %llu, \"bytes_read\": %llu, \"steps\": %llu, "
            "\"prefetched_steps\": %llu, \"prefetch_lead_ms_per_step\": %.4f, \"stall_ms_per_step\": %.4f, "
            "\"stall_pct\": %.3f, \"text\": \"%s\", \"profile_tokens\": %llu}\n",
            ram_ms, disk_ms, overhead, hit_rate, static_cast<unsigned long long>(st.table_bytes),
            static_cast<unsigned long long>(st.cache_budget_bytes), static_cast<unsigned long long>(st.bytes_read),
            static_cast<unsigned long long>(st.steps), static_cast<unsigned long long>(st.prefetched_steps),
            1000.0 * st.prefetch_lead_seconds / steps_n, 1000.0 * st.stall_seconds / steps_n, stall_pct,
            corpus.empty() ? "zipf" : "file", static_cast<unsigned long long>(profile_tokens));
    } else {
        std::printf("decode step (median of %zu): table in RAM %.3f ms, store %.3f ms: overhead %+.2f%%\n",
                    t_ram.size(), ram_ms, disk_ms, overhead);
        std::printf(
            "table %.2f MiB, cache %.2f MiB (table/cache %.1fx), hit rate %.2f%%, read %.2f MiB\n",
            static_cast<double>(st.table_bytes) / 1048576.0, static_cast<double>(st.cache_budget_bytes) / 1048576.0,
            st.cache_budget_bytes ? static_cast<double>(st.table_bytes) / static_cast<double>(st.cache_budget_bytes)
                                  : 0.0,
            100.0 * hit_rate, static_cast<double>(st.bytes_read) / 1048576.0);
        std::printf("per step: prefetch lead %.3f ms, stall %.3f ms (%.2f%% of the step in RAM)\n",
                    1000.0 * st.prefetch_lead_seconds / steps_n, 1000.0 * st.stall_seconds / steps_n, stall_pct);
    }
    return 0;
}

}  // namespace mneme_cli
