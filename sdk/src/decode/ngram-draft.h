// Drafts continuations from the session's own context: n-gram tables of orders 1..4 map the last
// 1..4 tokens to counts of the token that followed them. Where the longest context seen before
// predicts one continuation with a large enough share of its count, that token is drafted and the
// walk continues from it. Drafts are only proposals: the model verifies them, so they change speed,
// never output.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

namespace mneme {

class ngram_drafter {
public:
    static constexpr int k_max_order = 4;

    // Appends tokens to the context and counts the n-grams they complete.
    void push(std::span<const int32_t> tokens);
    void push(int32_t token) { push(std::span<const int32_t>(&token, 1)); }
    // Forgets everything and counts `context` afresh.
    void reset(std::span<const int32_t> context);
    std::size_t size() const noexcept { return context_.size(); }

    // Up to `max_tokens` tokens continuing context + `next`: each the top continuation of the
    // longest matching context, drafted while its count share is at least `threshold`.
    std::vector<int32_t> propose(int32_t next, double threshold, std::size_t max_tokens) const;

private:
    struct counts {
        std::unordered_map<int32_t, uint32_t> next;
        uint32_t total = 0;
        int32_t best = -1;
        uint32_t best_count = 0;
    };
    static uint64_t key(std::span<const int32_t> ctx);

    std::vector<int32_t> context_;
    std::unordered_map<uint64_t, counts> table_;
};

}  // namespace mneme
