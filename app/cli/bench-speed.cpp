// `mneme-cli bench --model DIR`: prefill and decode speed of a model next to the limits this machine
// measures in the same run, i.e. memory bandwidth for decode (a roofline over the bytes one decode
// step must read) and the fast matmul kernel's arithmetic rate for prefill.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench-bandwidth.h"
#include "bench-gemm-peak.h"
#include "bench-speed.h"
#include "bench-step-cost.h"
#include "cli-model.h"
#include "commands.h"
#include "core/thread-pool.h"

namespace mneme_cli {
namespace {

using clock_type = std::chrono::steady_clock;

struct speed {
    double prefill_tps = 0;
    double decode_tps = 0;  // decode forward passes per second (one token each)
    uint64_t decode_steps = 0;
};

using session_ptr = std::unique_ptr<mneme_session, void (*)(mneme_session*)>;

// Feeds `prompt` to `s` in chunks of `chunk` tokens (0: one chunk); returns the rate in tokens/s.
double timed_feed(mneme_session* s, const std::vector<int32_t>& prompt, uint32_t chunk) {
    mneme_feed_desc fd = MNEME_FEED_DESC_INIT;
    fd.chunk_size = chunk ? chunk : static_cast<uint32_t>(prompt.size());
    const auto t0 = clock_type::now();
    if (mneme_session_feed_tokens(s, prompt.data(), prompt.size(), &fd) != MNEME_OK) {
        throw std::runtime_error(mneme_last_error_message());
    }
    return static_cast<double>(prompt.size()) / std::chrono::duration<double>(clock_type::now() - t0).count();
}

// A fresh session with room for `prompt` and `gen` decoded tokens, the prompt prefilled in chunks of
// `chunk` tokens (0: one chunk); sets r.prefill_tps.
session_ptr prefilled(mneme_model* m, const std::vector<int32_t>& prompt, uint32_t gen, uint32_t chunk, speed& r) {
    mneme_session_desc sd = MNEME_SESSION_DESC_INIT;
    sd.n_ctx = static_cast<uint32_t>(prompt.size() + gen + 1);
    mneme_session* s = nullptr;
    if (mneme_session_create(m, &sd, &s) != MNEME_OK) throw std::runtime_error(mneme_last_error_message());
    session_ptr guard(s, mneme_session_destroy);
    r.prefill_tps = timed_feed(s, prompt, chunk);
    return guard;
}

// Decodes `gen` tokens greedily; sets r.decode_tps and r.decode_steps, and the ids into `tokens`
// when given.
void decode(mneme_session* s, uint32_t gen, speed& r, std::vector<int32_t>* tokens = nullptr) {
    mneme_generate_desc gd = MNEME_GENERATE_DESC_INIT;
    gd.max_tokens = gen;
    gd.stop_at_eos = MNEME_FALSE;
    if (tokens) {
        gd.token_fn = [](void* user, const mneme_token_event* e) -> mneme_bool {
            static_cast<std::vector<int32_t>*>(user)->push_back(e->token);
            return MNEME_TRUE;
        };
        gd.token_user_data = tokens;
    }
    mneme_generate_result res{};
    res.struct_size = sizeof(res);
    if (mneme_session_generate(s, &gd, &res) < 0) throw std::runtime_error(mneme_last_error_message());
    // The first token may come from the prefill's logits: count forward passes, not tokens.
    r.decode_steps = res.n_forward_passes ? res.n_forward_passes : res.n_tokens;
    r.decode_tps = res.decode_seconds > 0 ? static_cast<double>(r.decode_steps) / res.decode_seconds : 0.0;
}

// One fresh session: prefill `prompt`, then decode `gen` tokens.
speed run_once(mneme_model* m, const std::vector<int32_t>& prompt, uint32_t gen, uint32_t chunk) {
    speed r;
    const session_ptr s = prefilled(m, prompt, gen, chunk, r);
    decode(s.get(), gen, r);
    return r;
}

// --rounds-on-stdin: the prompt is prefilled once and its state saved; then every line read from
// stdin restores that state and decodes `gen` tokens, each round answered with one line of JSON
// (its rate and the ids decoded), until end of input. A driver can so alternate rounds of two engines at a long
// context, where a prefill takes minutes and the machine's load changes between one engine's run and the next.
// A line reading "prefill" instead times a prefill of the prompt (answered with its rate), so that
// short prompts' prefills can be alternated the same way: in a second session kept for these rounds
// and reset before each, as llama-run clears the cache of the context it keeps (the first such
// round prefills it once untimed, so that no round pays for growing its caches).
speed serve_rounds(mneme_model* m, const std::vector<int32_t>& prompt, uint32_t gen, uint32_t chunk) {
    speed best;
    const session_ptr s = prefilled(m, prompt, gen, chunk, best);
    const std::filesystem::path state =
        std::filesystem::temp_directory_path() / ("mneme-bench-rounds-" + std::to_string(std::random_device{}()));
    struct remover {
        std::filesystem::path p;
        ~remover() {
            std::error_code ec;
            std::filesystem::remove(p, ec);
        }
    } cleanup{state};
    if (mneme_session_save_state(s.get(), state.string().c_str()) != MNEME_OK) {
        throw std::runtime_error(mneme_last_error_message());
    }
    std::printf("{\"prefill_tps\": %.3f, \"prompt_tokens\": %zu}\n", best.prefill_tps, prompt.size());
    std::fflush(stdout);
    std::string line;
    session_ptr again(nullptr, mneme_session_destroy);  // the "prefill" rounds' session
    for (int round = 1; std::getline(std::cin, line); ++round) {
        if (line == "prefill") {
            if (!again) {
                speed untimed;
                again = prefilled(m, prompt, gen, chunk, untimed);
            }
            if (mneme_session_reset(again.get()) != MNEME_OK) throw std::runtime_error(mneme_last_error_message());
            const double tps = timed_feed(again.get(), prompt, chunk);
            std::printf("{\"round\": %d, \"prefill_tps\": %.3f}\n", round, tps);
            std::fflush(stdout);
            best.prefill_tps = std::max(best.prefill_tps, tps);
            continue;
        }
        if (mneme_session_load_state(s.get(), state.string().c_str()) != MNEME_OK) {
            throw std::runtime_error(mneme_last_error_message());
        }
        speed r;
        std::vector<int32_t> tokens;
        decode(s.get(), gen, r, &tokens);
        // The ids show that every round starts from the same state (greedy decoding repeats them).
        std::string ids;
        for (const int32_t t : tokens) ids += (ids.empty() ? "" : ", ") + std::to_string(t);
        std::printf("{\"round\": %d, \"decode_tps\": %.3f, \"decode_steps\": %llu, \"tokens\": [%s]}\n", round,
                    r.decode_tps, static_cast<unsigned long long>(r.decode_steps), ids.c_str());
        std::fflush(stdout);
        if (r.decode_tps > best.decode_tps) {
            best.decode_tps = r.decode_tps;
            best.decode_steps = r.decode_steps;
        }
    }
    return best;
}

std::string load_average() {
    std::ifstream f("/proc/loadavg");
    double a = 0, b = 0, c = 0;
    if (!(f >> a >> b >> c)) return "unknown";
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.2f %.2f %.2f", a, b, c);
    return buf;
}

double mib(uint64_t b) {
    return static_cast<double>(b) / 1048576.0;
}

}  // namespace

int cmd_bench_speed(const args& a) {
    auto known = model_option_names();
    for (const char* n : {"prompt-tokens", "gen-tokens", "reps", "json", "tokens", "tokens-file", "prefill-chunk",
                          "warmup-tokens", "rounds-on-stdin", "no-limits"}) {
        known.emplace_back(n);
    }
    a.allow_only(known);
    uint32_t prompt_tokens = static_cast<uint32_t>(std::max<long long>(1, a.get_int("prompt-tokens", 128)));
    const uint32_t gen_tokens = static_cast<uint32_t>(std::max<long long>(2, a.get_int("gen-tokens", 32)));
    const int reps = static_cast<int>(std::max<long long>(1, a.get_int("reps", 2)));
    const bool json = a.has("json");
    // Long prompts are prefilled in chunks as an application would feed them (V3.2's index scores
    // for one chunk take chunk x context floats: ~4 GiB for a 32K prompt as a single chunk).
    const auto prefill_chunk = static_cast<uint32_t>(std::max<long long>(0, a.get_int("prefill-chunk", 0)));
    const std::string path = a.require("model");
    const std::string load_before = load_average();

    opened_model opened = open_runtime_and_model(a);
    if (!opened) return 1;
    mneme_model* m = opened.model.get();
    mneme_model_info info{};
    info.struct_size = sizeof(info);
    if (mneme_model_get_info(m, &info) != MNEME_OK) return report_failure("model info", MNEME_ERROR_INTERNAL);
    const bench::checkpoint_summary ckpt = bench::read_checkpoint_summary(path);

    // The probes use a pool like the runtime's: the same thread count (0 = hardware threads).
    unsigned threads = static_cast<unsigned>(a.get_int("threads", 0));
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    mneme::thread_pool pool(threads);
    // --no-limits: speeds only (the probes take seconds and 3 GiB of arrays); the limits and the
    // shares of them read 0.
    const bool limits = !a.has("no-limits");
    const bench::bandwidth_result bw_before = limits ? bench::measure_bandwidth(pool) : bench::bandwidth_result{};
    bench::gemm_peak peak = limits ? bench::measure_gemm_peak(pool) : bench::gemm_peak{};

    // The prompt: --tokens or --tokens-file (e.g. the same ids another engine is timed with; a
    // command-line argument holds ~20K ids at most), else random ids.
    std::vector<int32_t> prompt;
    if (a.has("tokens")) {
        prompt = parse_token_list(*a.get("tokens"));
    } else if (a.has("tokens-file")) {
        const std::string file = *a.get("tokens-file");
        std::ifstream in(file);
        if (!in) throw usage_error{file + ": cannot open the token ids"};
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        prompt = parse_token_list(text);
        if (prompt.empty()) throw usage_error{file + ": no token ids"};
    } else {
        std::mt19937 rng(1234);
        std::uniform_int_distribution<int32_t> tok(3, static_cast<int32_t>(info.vocab_size) - 1);
        prompt.resize(prompt_tokens);
        for (auto& t : prompt) t = tok(rng);
    }
    prompt_tokens = static_cast<uint32_t>(prompt.size());
    // Warm-up: faults in the mapped weights (a prompt routes through most experts) and grows caches.
    // At long context a shorter one does that as well (--warmup-tokens; default the whole prompt).
    const auto warmup_tokens = static_cast<std::size_t>(
        std::clamp<long long>(a.get_int("warmup-tokens", prompt_tokens), 1, static_cast<long long>(prompt_tokens)));
    run_once(m, std::vector<int32_t>(prompt.begin(), prompt.begin() + static_cast<std::ptrdiff_t>(warmup_tokens)), 4,
             prefill_chunk);
    speed best;
    const bool rounds = a.has("rounds-on-stdin");
    if (rounds) best = serve_rounds(m, prompt, gen_tokens, prefill_chunk);
    for (int r = 0; r < (rounds ? 0 : reps); ++r) {
        const speed s = run_once(m, prompt, gen_tokens, prefill_chunk);
        best.prefill_tps = std::max(best.prefill_tps, s.prefill_tps);
        if (s.decode_tps > best.decode_tps) best = {best.prefill_tps, s.decode_tps, s.decode_steps};
    }
    // The limits are measured again after the model ran and the better figure kept: on a busy
    // machine either moment may have been the unlucky one.
    const bench::bandwidth_result bw_after = limits ? bench::measure_bandwidth(pool) : bench::bandwidth_result{};
    const bench::gemm_peak peak_after = limits ? bench::measure_gemm_peak(pool) : bench::gemm_peak{};
    for (std::size_t i = 0; i < peak.shapes.size() && i < peak_after.shapes.size(); ++i) {
        peak.shapes[i].gflops = std::max(peak.shapes[i].gflops, peak_after.shapes[i].gflops);
    }
    peak.fma_gflops = std::max(peak.fma_gflops, peak_after.fma_gflops);
    const double bandwidth = std::max(bw_before.best_gbs(), bw_after.best_gbs());

    // Decode steps attend to prompt + 1 .. prompt + gen tokens; cost at the mean.
    const uint64_t mean_context = prompt_tokens + (gen_tokens + 1) / 2;
    // What the runtime keeps per index key element (BF16 on the CPU), from its own per-token size:
    // per layer, the latent's float32 values and then the key.
    const bench::model_shape& shape = ckpt.shape;
    uint64_t key_bytes = 4;
    if (shape.index_dim > 0 && shape.layers > 0) {
        const uint64_t per_layer = info.cache_bytes_per_token / static_cast<uint64_t>(shape.layers);
        const uint64_t latent = 4 * static_cast<uint64_t>(shape.kv_lora + shape.rope);
        if (per_layer > latent) key_bytes = (per_layer - latent) / static_cast<uint64_t>(shape.index_dim);
    }
    const bench::step_cost cost = bench::decode_step_cost(ckpt, mean_context, 4, info.cache_bytes_per_token, key_bytes);
    const double step_bytes = static_cast<double>(cost.total_bytes());
    const double roofline_tps = bandwidth * 1e9 / step_bytes;  // 0 without the probes
    const double decode_pct = roofline_tps > 0 ? 100.0 * best.decode_tps / roofline_tps : 0.0;
    const double flops_per_token = bench::prefill_flops_per_token(cost, prompt_tokens);
    const double prefill_gflops = best.prefill_tps * flops_per_token / 1e9;
    const double prefill_pct = peak.best_gflops() > 0 ? 100.0 * prefill_gflops / peak.best_gflops() : 0.0;
    const std::string load_after = load_average();

    if (json) {
        std::printf(
            "{\"model\": \"%s\", \"architecture\": \"%s\", \"threads\": %u, \"isa\": \"%s\", "
            "\"prompt_tokens\": %u, \"prefill_chunk\": %u, \"gen_tokens\": %u, \"reps\": %d, "
            "\"prefill_tps\": %.3f, \"decode_tps\": %.3f, \"decode_ms\": %.4f, "
            "\"bandwidth_gbs\": %.3f, \"copy_gbs\": %.3f, \"triad_gbs\": %.3f, \"read_gbs\": %.3f, "
            "\"bandwidth_before_gbs\": %.3f, \"bandwidth_after_gbs\": %.3f, \"bandwidth_array_mib\": %.0f, "
            "\"decode_step_bytes\": %llu, \"decode_weight_bytes\": %llu, \"decode_weight_bytes_stored\": %llu, "
            "\"attention_dense_bytes\": %llu, \"shared_expert_bytes\": %llu, \"routed_expert_bytes\": %llu, "
            "\"routed_experts_per_token\": %llu, \"embedding_bytes\": %llu, \"head_bytes\": %llu, "
            "\"cache_bytes\": %llu, \"decode_context\": %llu, "
            "\"decode_roofline_tps\": %.3f, \"decode_roofline_pct\": %.2f, "
            "\"prefill_flops_per_token\": %.0f, \"prefill_gflops\": %.3f, \"gemm_peak_gflops\": %.3f, "
            "\"prefill_peak_pct\": %.2f, \"fma_peak_gflops\": %.3f, \"prefill_fma_pct\": %.2f, \"gemm_shapes\": [",
            path.c_str(), info.architecture_name, threads, peak.isa.c_str(), prompt_tokens,
            prefill_chunk ? prefill_chunk : prompt_tokens, gen_tokens, reps, best.prefill_tps, best.decode_tps,
            (best.decode_tps > 0 ? 1000.0 / best.decode_tps : 0.0), bandwidth,
            std::max(bw_before.copy_gbs, bw_after.copy_gbs), std::max(bw_before.triad_gbs, bw_after.triad_gbs),
            std::max(bw_before.read_gbs, bw_after.read_gbs), bw_before.best_gbs(), bw_after.best_gbs(),
            static_cast<double>(bench::default_array_bytes()) / 1048576.0,
            static_cast<unsigned long long>(cost.total_bytes()), static_cast<unsigned long long>(cost.weight_bytes()),
            static_cast<unsigned long long>(cost.weight_bytes_stored),
            static_cast<unsigned long long>(cost.attention_dense_bytes),
            static_cast<unsigned long long>(cost.shared_expert_bytes),
            static_cast<unsigned long long>(cost.routed_expert_bytes),
            static_cast<unsigned long long>(cost.routed_experts_read),
            static_cast<unsigned long long>(cost.embedding_bytes), static_cast<unsigned long long>(cost.head_bytes),
            static_cast<unsigned long long>(cost.cache_bytes), static_cast<unsigned long long>(mean_context),
            roofline_tps, decode_pct, flops_per_token, prefill_gflops, peak.best_gflops(), prefill_pct, peak.fma_gflops,
            peak.fma_gflops > 0 ? 100.0 * prefill_gflops / peak.fma_gflops : 0.0);
        for (std::size_t i = 0; i < peak.shapes.size(); ++i) {
            const auto& s = peak.shapes[i];
            std::printf("%s{\"weights\": \"%s\", \"rows\": %lld, \"n\": %lld, \"k\": %lld, \"gflops\": %.3f}",
                        i ? ", " : "", s.weights.c_str(), s.rows, s.n, s.k, s.gflops);
        }
        std::printf("], \"load_average_before\": \"%s\", \"load_average_after\": \"%s\"}\n", load_before.c_str(),
                    load_after.c_str());
        return 0;
    }
    std::printf("model %s (%s), %u threads, %s kernels\n", path.c_str(), info.architecture_name, threads,
                peak.isa.c_str());
    std::printf(
        "memory bandwidth   %.1f GB/s (3 x %.0f MiB arrays: copy %.1f, triad %.1f, read %.1f; before %.1f, after "
        "%.1f)\n",
        bandwidth, static_cast<double>(bench::default_array_bytes()) / 1048576.0,
        std::max(bw_before.copy_gbs, bw_after.copy_gbs), std::max(bw_before.triad_gbs, bw_after.triad_gbs),
        std::max(bw_before.read_gbs, bw_after.read_gbs), bw_before.best_gbs(), bw_after.best_gbs());
    std::printf("GEMM peak          %.1f GFLOP/s (fast float32 matmul:", peak.best_gflops());
    for (const auto& s : peak.shapes)
        std::printf(" %s %lldx%lldx%lld %.1f;", s.weights.c_str(), s.rows, s.n, s.k, s.gflops);
    std::printf(
        ")\nFMA peak           %.1f GFLOP/s (float32 FMAs in registers; the kernel's GEMM peak is %.1f%% of it%s)\n",
        peak.fma_gflops, peak.fma_gflops > 0 ? 100.0 * peak.best_gflops() / peak.fma_gflops : 0.0,
        peak.isa.find("amx") != std::string::npos ? ": its BF16 tile products pass the vector units' rate" : "");
    std::printf(
        "decode step reads  %.2f MiB: attention+dense %.2f, shared experts %.2f, routed experts %.2f (%llu per "
        "token), embedding row %.3f, LM head %.2f, cache %.3f at %llu tokens (stored formats: %.2f MiB of "
        "weights)\n",
        mib(cost.total_bytes()), mib(cost.attention_dense_bytes), mib(cost.shared_expert_bytes),
        mib(cost.routed_expert_bytes), static_cast<unsigned long long>(cost.routed_experts_read),
        mib(cost.embedding_bytes), mib(cost.head_bytes), mib(cost.cache_bytes),
        static_cast<unsigned long long>(mean_context), mib(cost.weight_bytes_stored));
    std::printf(
        "prefill            %.1f tokens/s (%u tokens, chunks of %u), %.2f GFLOP/s = %.1f%% of the GEMM peak (%.1f "
        "MFLOP/token)\n",
        best.prefill_tps, prompt_tokens, prefill_chunk ? std::min(prefill_chunk, prompt_tokens) : prompt_tokens,
        prefill_gflops, prefill_pct, flops_per_token / 1e6);
    std::printf("decode             %.1f tokens/s (%.2f ms/step), roofline %.1f tokens/s: %.1f%% of bandwidth\n",
                best.decode_tps, (best.decode_tps > 0 ? 1000.0 / best.decode_tps : 0.0), roofline_tps, decode_pct);
    std::printf("load average       %s before, %s after\n", load_before.c_str(), load_after.c_str());
    return 0;
}

}  // namespace mneme_cli
