#include "session/generation-stats.h"

#include <algorithm>

namespace mneme {
namespace {

bool routes_experts(const model_config& cfg, int64_t layer) {
    if (cfg.n_routed_experts <= 0) return false;
    if (cfg.is_v4()) return true;  // every V4 layer is MoE (the first ones hash-routed)
    return layer >= cfg.first_k_dense_replace && layer % std::max<int64_t>(cfg.moe_layer_freq, 1) == 0;
}

// V3.2 indexes every layer token by token; V4 only its ratio-4 layers, over blocks of 4 tokens.
bool has_indexer(const model_config& cfg, int64_t layer) {
    if (!cfg.has_indexer()) return false;
    if (!cfg.is_v4()) return true;
    return static_cast<std::size_t>(layer) < cfg.compress_ratios.size() &&
           cfg.compress_ratios[static_cast<std::size_t>(layer)] == 4;
}

}  // namespace

void generation_stats::add_feed(clock_type::time_point started, const mneme_feed_stats& feed) {
    if (!prompt_.started) prompt_.started = started;
    prompt_.tokens += feed.tokens_reused + feed.tokens_evaluated;
    prompt_.reused += feed.tokens_reused;
    prompt_.seconds += feed.seconds;
}

forward_probe& generation_stats::begin(const model_config& cfg, bool collect_selections,
                                       const mneme_engram_stats& engram) {
    began_ = clock_type::now();
    first_token_.reset();
    forwarded_ = 0;
    engram_before_ = engram;
    stats_ = mneme_generation_stats{};
    stats_.struct_size = sizeof(stats_);
    stats_.selections_collected = collect_selections ? MNEME_TRUE : MNEME_FALSE;
    stats_.n_layers = static_cast<uint32_t>(cfg.num_hidden_layers);
    stats_.n_experts = static_cast<uint32_t>(std::max<int64_t>(cfg.n_routed_experts, 0));
    stats_.experts_per_token = static_cast<uint32_t>(std::max<int64_t>(cfg.num_experts_per_tok, 0));
    for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) {
        if (routes_experts(cfg, i)) ++stats_.n_moe_layers;
        if (has_indexer(cfg, i)) ++stats_.n_indexer_layers;
    }
    if (stats_.n_indexer_layers) {
        stats_.index_topk = static_cast<uint32_t>(cfg.index_topk);
        stats_.selection_entry_tokens = cfg.is_v4() ? 4u : 1u;
    }
    probe_.reset(cfg.num_hidden_layers, stats_.n_experts, collect_selections);
    return probe_;
}

void generation_stats::finish(const mneme_generate_result& result, const mneme_engram_stats& engram,
                              uint64_t context_tokens) {
    const auto now = clock_type::now();
    mneme_generation_stats& s = stats_;
    s.prompt_tokens = prompt_.tokens;
    s.prompt_tokens_reused = prompt_.reused;
    s.prefill_seconds = prompt_.seconds;
    const auto from = prompt_.started ? *prompt_.started : began_;
    s.time_to_first_token_seconds = first_token_ ? std::chrono::duration<double>(*first_token_ - from).count() : -1.0;
    prompt_ = {};

    s.generated_tokens = result.n_tokens;
    s.forward_passes = result.n_forward_passes;
    s.decode_seconds = std::chrono::duration<double>(now - began_).count();
    s.decode_tokens_per_second = s.decode_seconds > 0 ? static_cast<double>(s.generated_tokens) / s.decode_seconds : 0;
    s.draft_proposed = result.n_draft_proposed;
    s.draft_accepted = result.n_draft_accepted;
    s.drafted_tokens = result.n_drafted;
    s.draft_acceptance_rate =
        s.draft_proposed ? static_cast<double>(s.draft_accepted) / static_cast<double>(s.draft_proposed) : 0;
    s.drafted_fraction =
        s.generated_tokens ? static_cast<double>(s.drafted_tokens) / static_cast<double>(s.generated_tokens) : 0;

    s.engram_from_store = engram.from_store;
    s.engram_hits = engram.hits - engram_before_.hits;
    s.engram_misses = engram.misses - engram_before_.misses;
    s.engram_bytes_read = engram.bytes_read - engram_before_.bytes_read;
    s.engram_stall_seconds = engram.stall_seconds - engram_before_.stall_seconds;

    s.forwarded_tokens = forwarded_;
    s.selection_rows = probe_.selection_rows;
    s.selections = probe_.selections;
    s.context_tokens = context_tokens;
    if (probe_.selected.size() > context_tokens) probe_.selected.resize(static_cast<std::size_t>(context_tokens));
}

}  // namespace mneme
