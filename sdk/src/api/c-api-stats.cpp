// Per-answer statistics entry points of the C API (mneme_session_last_generation_stats and the
// arrays that go with it).
#include <mneme/mneme.h>

#include <algorithm>

#include "api/struct-copy.h"
#include "session/session.h"

using namespace mneme;

extern "C" {

MNEME_API mneme_status MNEME_CALL mneme_session_last_generation_stats(const mneme_session* s,
                                                                      mneme_generation_stats* out) noexcept {
    return api_call([&] {
        require(s && out, "mneme_session_last_generation_stats: NULL argument");
        write_versioned(out, s->last_generation().stats(), "mneme_generation_stats");
        return MNEME_OK;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_session_last_expert_counts(const mneme_session* s, uint64_t* counts,
                                                                   size_t capacity, size_t* out_count) noexcept {
    return api_call([&] {
        require(s && out_count && (counts || capacity == 0), "mneme_session_last_expert_counts: NULL argument");
        const auto all = s->last_generation().expert_counts();
        *out_count = all.size();
        if (capacity < all.size()) return MNEME_INCOMPLETE;
        std::copy(all.begin(), all.end(), counts);
        return MNEME_OK;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_session_last_selection_counts(const mneme_session* s, uint32_t bucket_tokens,
                                                                      uint64_t* counts, size_t capacity,
                                                                      size_t* out_count) noexcept {
    return api_call([&] {
        require(s && out_count && (counts || capacity == 0), "mneme_session_last_selection_counts: NULL argument");
        const generation_stats& g = s->last_generation();
        const uint64_t bucket = bucket_tokens ? bucket_tokens : 1;
        const uint64_t positions = g.stats().context_tokens;
        const auto buckets = static_cast<size_t>((positions + bucket - 1) / bucket);
        *out_count = buckets;
        if (capacity < buckets) return MNEME_INCOMPLETE;
        std::fill(counts, counts + buckets, uint64_t{0});
        for (uint64_t pos = 0; pos < positions; ++pos) counts[pos / bucket] += g.selected_at(pos);
        return MNEME_OK;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_session_last_selection_by_span(const mneme_session* s,
                                                                       const mneme_token_span* spans, size_t n_spans,
                                                                       uint64_t* out_counts) noexcept {
    return api_call([&] {
        require(s && ((spans && out_counts) || n_spans == 0), "mneme_session_last_selection_by_span: NULL argument");
        const generation_stats& g = s->last_generation();
        const uint64_t positions = g.stats().context_tokens;
        for (size_t i = 0; i < n_spans; ++i) {
            // Clamped to the context first, so a huge caller span costs nothing.
            const uint64_t first = std::min(spans[i].first, positions);
            const uint64_t end = first + std::min(spans[i].count, positions - first);
            uint64_t sum = 0;
            for (uint64_t pos = first; pos < end; ++pos) sum += g.selected_at(pos);
            out_counts[i] = sum;
        }
        return MNEME_OK;
    });
}

}  // extern "C"
