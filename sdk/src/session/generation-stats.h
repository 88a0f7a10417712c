// Per-answer statistics of a session (mneme_session_last_generation_stats): the prompt fed since
// the previous answer, the decode counters, Engram store traffic, and the shapes and contents of
// the expert routing counts and the sparse-attention selection histogram.
#pragma once

#include <mneme/mneme.h>

#include <chrono>
#include <optional>
#include <span>
#include <vector>

#include "graph/forward-probe.h"
#include "model/config.h"

namespace mneme {

class generation_stats {
  public:
    using clock_type = std::chrono::steady_clock;

    // A feed call finished: it belongs to the prompt of the next answer.
    void add_feed(clock_type::time_point started, const mneme_feed_stats& feed);
    // The context was dropped: the prompt starts again with the next feed.
    void drop_prompt() { prompt_ = {}; }

    // Starts an answer: clears the counters, attaches the probe (shaped for `cfg`) and snapshots
    // the model's Engram counters.
    forward_probe& begin(const model_config& cfg, bool collect_selections, const mneme_engram_stats& engram);
    // A decode pass evaluated `n` token positions.
    void forwarded(uint64_t n) { forwarded_ += n; }
    void first_token() {
        if (!first_token_) first_token_ = clock_type::now();
    }
    // Ends the answer with the generate call's result and the Engram counters now.
    void finish(const mneme_generate_result& result, const mneme_engram_stats& engram, uint64_t context_tokens);

    const mneme_generation_stats& stats() const noexcept { return stats_; }
    std::span<const uint64_t> expert_counts() const noexcept { return probe_.expert_counts; }
    // Selections at `pos` (0 past the histogram).
    uint64_t selected_at(uint64_t pos) const noexcept {
        return pos < probe_.selected.size() ? probe_.selected[static_cast<std::size_t>(pos)] : 0;
    }

  private:
    struct prompt {
        std::optional<clock_type::time_point> started;
        uint64_t tokens = 0, reused = 0;
        double seconds = 0;
    };
    prompt prompt_;
    clock_type::time_point began_{};
    std::optional<clock_type::time_point> first_token_;
    uint64_t forwarded_ = 0;
    mneme_engram_stats engram_before_{};
    forward_probe probe_;
    mneme_generation_stats stats_ = empty();

    static mneme_generation_stats empty() {
        mneme_generation_stats s{};
        s.struct_size = sizeof(s);
        return s;
    }
};

}  // namespace mneme
