#include "decode/ngram-draft.h"

#include <algorithm>

namespace mneme {

uint64_t ngram_drafter::key(std::span<const int32_t> ctx) {
    // The order is part of the key, so equal suffixes of different lengths stay apart. A collision
    // only costs a rejected draft.
    uint64_t h = 0x9E3779B97F4A7C15ull * (ctx.size() + 1);
    for (int32_t t : ctx) {
        h ^= static_cast<uint64_t>(static_cast<uint32_t>(t)) + 0x632BE59BD9B4E019ull + (h << 6) + (h >> 2);
        h *= 0xBF58476D1CE4E5B9ull;
    }
    return h;
}

void ngram_drafter::push(std::span<const int32_t> tokens) {
    for (int32_t t : tokens) {
        const std::size_t n = context_.size();
        for (std::size_t order = 1; order <= k_max_order && order <= n; ++order) {
            counts& c = table_[key(std::span<const int32_t>(context_).subspan(n - order, order))];
            const uint32_t k = ++c.next[t];
            ++c.total;
            if (k > c.best_count) {
                c.best_count = k;
                c.best = t;
            }
        }
        context_.push_back(t);
    }
}

void ngram_drafter::reset(std::span<const int32_t> context) {
    context_.clear();
    table_.clear();
    push(context);
}

std::vector<int32_t> ngram_drafter::propose(int32_t next, double threshold, std::size_t max_tokens) const {
    std::vector<int32_t> out;
    // The tail the walk continues from: the context's last tokens, `next`, then the drafts.
    std::vector<int32_t> tail(context_.end() - static_cast<std::ptrdiff_t>(std::min<std::size_t>(context_.size(), k_max_order)),
                              context_.end());
    tail.push_back(next);
    while (out.size() < max_tokens) {
        const counts* found = nullptr;
        for (std::size_t order = std::min<std::size_t>(k_max_order, tail.size()); order >= 1 && !found; --order) {
            const auto it = table_.find(key(std::span<const int32_t>(tail).subspan(tail.size() - order, order)));
            if (it != table_.end()) found = &it->second;
        }
        if (!found || static_cast<double>(found->best_count) < threshold * static_cast<double>(found->total)) break;
        out.push_back(found->best);
        tail.push_back(found->best);
    }
    return out;
}

}  // namespace mneme
