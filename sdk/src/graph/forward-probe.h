// What forward passes report while a session gathers per-answer statistics
// (mneme_session_last_generation_stats): expert routing counts, which the host already decides
// and so cost one increment per choice, and, only on request, the sparse-attention indexer's
// selections, which cost a device-to-host read of every indexer layer's top-k per pass.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

namespace mneme {

struct forward_probe {
    int64_t n_experts = 0;                // columns of expert_counts
    std::vector<uint64_t> expert_counts;  // [layer * n_experts + expert]

    bool collect_selections = false;
    std::vector<uint64_t> selected;  // per context position: times a selected entry covered it
    uint64_t selection_rows = 0;     // (query token, indexer layer) pairs that ran a top-k
    uint64_t selections = 0;         // entries they selected that the query could see

    void reset(int64_t layers, int64_t experts, bool selections_on) {
        n_experts = experts;
        expert_counts.assign(static_cast<std::size_t>(layers * experts), 0);
        collect_selections = selections_on;
        selected.clear();
        selection_rows = selections = 0;
    }

    // `experts` holds the chosen expert of every (token, slot) of one MoE layer.
    void count_experts(int64_t layer, std::span<const int32_t> experts) {
        const auto row = static_cast<std::size_t>(layer * n_experts);
        if (row + static_cast<std::size_t>(n_experts) > expert_counts.size()) return;
        for (int32_t e : experts) {
            if (e >= 0 && e < n_experts) ++expert_counts[row + static_cast<std::size_t>(e)];
        }
    }

    // `picked` is an indexer's top-k read back, [s rows of k entry ids], for the queries at
    // positions first_pos..first_pos+s-1; an entry stands for `entry_tokens` positions. Ids a
    // query cannot see yet (the top-k of a multi-token pass ranks the whole pass's entries) are
    // skipped, as the attention kernels skip them.
    void count_selection(std::span<const double> picked, int64_t k, int64_t s, int64_t first_pos,
                         int64_t entry_tokens) {
        for (int64_t t = 0; t < s; ++t) {
            const int64_t visible = (first_pos + t + 1) / entry_tokens;
            ++selection_rows;
            for (int64_t j = 0; j < k; ++j) {
                const auto id = static_cast<int64_t>(picked[static_cast<std::size_t>(t * k + j)]);
                if (id < 0 || id >= visible) continue;
                ++selections;
                const auto end = static_cast<std::size_t>((id + 1) * entry_tokens);
                if (selected.size() < end) selected.resize(std::max(end, selected.size() * 3 / 2), 0);
                for (auto pos = static_cast<std::size_t>(id * entry_tokens); pos < end; ++pos) ++selected[pos];
            }
        }
    }
};

}  // namespace mneme
