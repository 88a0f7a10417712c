#include "tokenizer/bpe.h"

#include <algorithm>
#include <mutex>

#include "tokenizer/byte-level.h"
#include "tokenizer/utf8.h"

namespace mneme {
namespace {

// Words longer than this are rare and unlikely to repeat; caching them would only churn memory.
constexpr std::size_t max_cached_word_bytes = 128;
// When the cache holds this many words it is emptied and refilled; simpler than LRU and, for
// text whose vocabulary of words is bounded, just as effective.
constexpr std::size_t max_cached_words = 200000;

std::uint64_t pair_key(std::int32_t left, std::int32_t right) {
    return (std::uint64_t(std::uint32_t(left)) << 32) | std::uint32_t(right);
}

std::size_t slot_of(std::uint64_t key, int shift) {
    return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> shift);
}

}  // namespace

bpe_model::bpe_model(string_to_id_map vocab, const std::vector<bpe_merge>& merges, bpe_options options)
    : vocab_(std::move(vocab)), options_(options) {
    for (int b = 0; b < 256; ++b) {
        std::string ch;
        utf8::append(ch, byte_level::byte_to_char(static_cast<std::uint8_t>(b)));
        const auto it = vocab_.find(ch);
        byte_ids_[b] = it == vocab_.end() ? -1 : it->second;
    }
    // Load factor <= 0.5 keeps probe chains short.
    std::size_t size = 16;
    int bits = 4;
    while (size < merges.size() * 2) {
        size *= 2;
        ++bits;
    }
    merge_table_.assign(size, merge_slot{});
    merge_shift_ = 64 - bits;
    const std::size_t mask = size - 1;
    for (std::size_t rank = 0; rank < merges.size(); ++rank) {
        const bpe_merge& m = merges[rank];
        const std::uint64_t key = pair_key(m.left, m.right);
        std::size_t i = slot_of(key, merge_shift_);
        while (merge_table_[i].key != empty_key && merge_table_[i].key != key) i = (i + 1) & mask;
        merge_table_[i] = {key, static_cast<std::int32_t>(rank), m.merged};
    }
}

const bpe_model::merge_slot* bpe_model::find_merge(std::int32_t left, std::int32_t right) const noexcept {
    const std::uint64_t key = pair_key(left, right);
    const std::size_t mask = merge_table_.size() - 1;
    std::size_t i = slot_of(key, merge_shift_);
    while (true) {
        const merge_slot& s = merge_table_[i];
        if (s.key == key) return &s;
        if (s.key == empty_key) return nullptr;
        i = (i + 1) & mask;
    }
}

void bpe_model::initial_symbols(std::string_view word, std::vector<std::int32_t>& ids) const {
    ids.clear();
    // Characters missing from the vocabulary become the unknown token (consecutive ones fused into
    // one when fuse_unk is set) or, without an unknown token, disappear: Hugging Face's rule.
    bool last_was_unk = false;
    const auto add_missing = [&] {
        if (options_.unk_id < 0) return;
        if (!(options_.fuse_unk && last_was_unk)) ids.push_back(options_.unk_id);
        last_was_unk = true;
    };
    if (options_.byte_level_input) {
        for (unsigned char b : word) {
            if (byte_ids_[b] >= 0) {
                ids.push_back(byte_ids_[b]);
                last_was_unk = false;
            } else {
                add_missing();
            }
        }
        return;
    }
    std::size_t pos = 0;
    while (pos < word.size()) {
        const std::size_t start = pos;
        utf8::decode_at(word, pos);
        const auto it = vocab_.find(word.substr(start, pos - start));
        if (it != vocab_.end()) {
            ids.push_back(it->second);
            last_was_unk = false;
        } else {
            add_missing();
        }
    }
}

void bpe_model::merge_symbols(std::vector<std::int32_t>& ids) const {
    const std::size_t n = ids.size();
    if (n < 2) return;

    struct candidate {
        std::int32_t rank;
        std::int32_t pos;
        std::int32_t left;
        std::int32_t right;
        std::int32_t merged;
    };
    // Min-heap on (rank, position): the lowest rank first, the leftmost among equal ranks.
    const auto later = [](const candidate& a, const candidate& b) {
        return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
    };
    thread_local std::vector<candidate> heap;
    thread_local std::vector<std::int32_t> next, prev;
    heap.clear();
    next.resize(n);
    prev.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        next[i] = i + 1 < n ? static_cast<std::int32_t>(i + 1) : -1;
        prev[i] = static_cast<std::int32_t>(i) - 1;
    }
    for (std::size_t i = 0; i + 1 < n; ++i) {
        if (const merge_slot* m = find_merge(ids[i], ids[i + 1])) {
            heap.push_back({m->rank, static_cast<std::int32_t>(i), ids[i], ids[i + 1], m->merged});
        }
    }
    std::make_heap(heap.begin(), heap.end(), later);
    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), later);
        const candidate c = heap.back();
        heap.pop_back();
        // Entries go stale when a neighbour merged first; skip those that no longer describe the
        // pair at their position.
        const std::int32_t right = next[c.pos];
        if (ids[c.pos] != c.left || right < 0 || ids[right] != c.right) continue;
        ids[c.pos] = c.merged;
        ids[right] = -1;
        next[c.pos] = next[right];
        if (next[right] >= 0) prev[next[right]] = c.pos;
        if (const std::int32_t p = prev[c.pos]; p >= 0) {
            if (const merge_slot* m = find_merge(ids[p], c.merged)) {
                heap.push_back({m->rank, p, ids[p], c.merged, m->merged});
                std::push_heap(heap.begin(), heap.end(), later);
            }
        }
        if (const std::int32_t q = next[c.pos]; q >= 0) {
            if (const merge_slot* m = find_merge(c.merged, ids[q])) {
                heap.push_back({m->rank, c.pos, c.merged, ids[q], m->merged});
                std::push_heap(heap.begin(), heap.end(), later);
            }
        }
    }
    // Symbol 0 never merges into a left neighbour, so the chain starts there.
    std::size_t count = 0;
    for (std::int32_t i = 0; i >= 0; i = next[i]) ids[count++] = ids[i];
    ids.resize(count);
}

void bpe_model::encode_word(std::string_view word, std::vector<std::int32_t>& out) const {
    if (word.empty()) return;
    const bool cacheable = word.size() <= max_cached_word_bytes;
    if (cacheable && cache_lookup(word, out)) return;

    if (options_.ignore_merges) {
        const auto it = options_.byte_level_input ? vocab_.find(byte_level::encode(word)) : vocab_.find(word);
        if (it != vocab_.end()) {
            out.push_back(it->second);
            return;
        }
    }
    thread_local std::vector<std::int32_t> ids;
    initial_symbols(word, ids);
    merge_symbols(ids);
    out.insert(out.end(), ids.begin(), ids.end());
    if (cacheable) cache_store(word, ids.data(), ids.size());
}

bool bpe_model::cache_lookup(std::string_view word, std::vector<std::int32_t>& out) const {
    std::shared_lock lock(cache_mutex_);
    const auto it = cache_.find(word);
    if (it == cache_.end()) return false;
    out.insert(out.end(), it->second.begin(), it->second.end());
    return true;
}

void bpe_model::cache_store(std::string_view word, const std::int32_t* ids, std::size_t count) const {
    std::unique_lock lock(cache_mutex_);
    if (cache_.size() >= max_cached_words) cache_.clear();
    cache_.try_emplace(std::string(word), ids, ids + count);
}

}  // namespace mneme
