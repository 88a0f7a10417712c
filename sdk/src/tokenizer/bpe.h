// The BPE model of a tokenizer.json: turns one pre-tokenized word into ids by applying merges in
// rank order, exactly as Hugging Face's BPE does (lowest rank first, leftmost first among equal
// ranks), with a priority queue so that long words (a megabyte of one script, a long whitespace
// run) stay O(n log n), and a cache for the words that repeat.
#pragma once

#include <cstdint>
#include <functional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mneme {

struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

using string_to_id_map = std::unordered_map<std::string, std::int32_t, string_hash, std::equal_to<>>;

struct bpe_merge {
    std::int32_t left = 0;
    std::int32_t right = 0;
    std::int32_t merged = 0;  // id of left's text followed by right's text
};

struct bpe_options {
    // Words arrive as raw bytes and start as one symbol per byte, through GPT-2's byte alphabet
    // (the tokenizer has a ByteLevel pre-tokenizer). Otherwise they start as one symbol per
    // UTF-8 character.
    bool byte_level_input = true;
    // A word that is itself in the vocabulary becomes that token without merging.
    bool ignore_merges = false;
    std::int32_t unk_id = -1;  // -1: characters missing from the vocabulary are dropped, as in Hugging Face
    bool fuse_unk = false;
};

class bpe_model {
  public:
    // `merges` in rank order (rank = index). A pair listed twice keeps its last rank, as Hugging
    // Face's hash map does.
    bpe_model(string_to_id_map vocab, const std::vector<bpe_merge>& merges, bpe_options options);

    // Appends the ids of one word.
    void encode_word(std::string_view word, std::vector<std::int32_t>& out) const;

    const string_to_id_map& vocab() const { return vocab_; }
    bool byte_level_input() const { return options_.byte_level_input; }

  private:
    struct merge_slot {
        std::uint64_t key = empty_key;
        std::int32_t rank = 0;
        std::int32_t merged = 0;
    };
    static constexpr std::uint64_t empty_key = ~std::uint64_t{0};

    const merge_slot* find_merge(std::int32_t left, std::int32_t right) const noexcept;
    void initial_symbols(std::string_view word, std::vector<std::int32_t>& ids) const;
    void merge_symbols(std::vector<std::int32_t>& ids) const;

    bool cache_lookup(std::string_view word, std::vector<std::int32_t>& out) const;
    void cache_store(std::string_view word, const std::int32_t* ids, std::size_t count) const;

    string_to_id_map vocab_;
    bpe_options options_;
    std::int32_t byte_ids_[256];           // id of each byte's alphabet character, -1 when missing
    std::vector<merge_slot> merge_table_;  // open addressing, power-of-two size
    int merge_shift_ = 64;

    mutable std::shared_mutex cache_mutex_;
    mutable std::unordered_map<std::string, std::vector<std::int32_t>, string_hash, std::equal_to<>> cache_;
};

}  // namespace mneme
