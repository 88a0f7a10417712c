// Drafts continuations from the session's own context: n-gram tables of orders 1..4 map the last
// 1..4 tokens to counts of the token that followed them. Where the longest context seen before
// predicts one continuation with a large enough share of its count, that token is drafted and the
// walk continues from it. Drafts are only proposals: the model verifies them, so they change speed,
// never output.
//
// The table must stay cheap for a pasted codebase of a million tokens: one open-addressing array of
// 32-byte entries keyed by the context's hash, where the first two distinct followers live inline
// (nearly every order-3 and order-4 context has one or two), and only contexts with more move their
// follower counts to a second open-addressing array keyed by (context, token). The table can be
// written out and read back (the snapshot sidecar), bound to the exact tokens it counted.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace mneme {

// FNV-1a over the tokens' little-endian bytes, continuing from `h`: the hash snapshot names and
// sidecar headers use for "these exact tokens".
uint64_t token_prefix_hash(std::span<const int32_t> tokens, uint64_t h = 1469598103934665603ull) noexcept;

// The checksum that ends a sidecar, over everything before it.
uint64_t ngram_table_checksum(std::span<const unsigned char> bytes) noexcept;

class ngram_drafter {
  public:
    static constexpr int k_max_order = 4;

    // Appends tokens to the context and counts the n-grams they complete.
    void push(std::span<const int32_t> tokens);
    void push(int32_t token) { push(std::span<const int32_t>(&token, 1)); }
    // Forgets everything and counts `context` afresh.
    void reset(std::span<const int32_t> context);
    // Forgets everything and releases the tables' memory.
    void clear() noexcept;
    std::size_t size() const noexcept { return n_; }
    // The last min(size(), k_max_order) tokens counted: enough to check that the drafter still
    // follows a context it was fed incrementally.
    std::span<const int32_t> tail() const noexcept { return std::span<const int32_t>(tail_).subspan(0, tail_len_); }
    // token_prefix_hash of every token counted.
    uint64_t context_hash() const noexcept { return hash_; }

    // Up to `max_tokens` tokens continuing context + `next`: each the top continuation of the
    // longest matching context, drafted while its count share is at least `threshold`.
    std::vector<int32_t> propose(int32_t next, double threshold, std::size_t max_tokens) const;

    std::size_t contexts() const noexcept { return used_; }
    // Heap bytes the tables hold.
    std::size_t memory_bytes() const noexcept;

    // The table as the bytes of a sidecar file: a header (magic, version, token count, the hash of
    // the tokens counted), the used entries, and a checksum over all of it.
    std::vector<unsigned char> serialize() const;
    // Replaces this drafter by the table in `bytes` if they are an intact sidecar built from exactly
    // `context`; returns an empty string then. Otherwise returns why not and leaves the drafter
    // empty. Nothing in `bytes` is trusted: every size is checked against the data's length before
    // it is used, and every count against the token count.
    std::string deserialize(std::span<const unsigned char> bytes, std::span<const int32_t> context);
    // The same from `size` bytes of a stream (a sidecar file), read in pieces: loading never holds
    // the whole file in memory next to the table.
    std::string deserialize(std::istream& in, uint64_t size, std::span<const int32_t> context);
    // More than serialize() can write for a table over `tokens` tokens: a larger file is refused
    // unread.
    static uint64_t max_serialized_bytes(std::size_t tokens) noexcept { return 256 + 200 * uint64_t{tokens}; }

    // One context's counts, as the table holds them (for tests and the benchmark).
    struct context_counts {
        uint32_t total = 0;
        int32_t best = -1;
        uint32_t best_count = 0;
        uint32_t distinct = 0;
    };
    context_counts lookup(std::span<const int32_t> ctx) const noexcept;

    // The 64-bit key of an n-gram context (the order is part of it). Exposed for tests.
    static uint64_t key(std::span<const int32_t> ctx) noexcept;

    // Entry layouts are part of the sidecar format: changing them needs a new format version.
    struct slot {
        uint64_t key;
        uint32_t total;  // 0: an empty slot
        int32_t best;    // the follower whose count reached best_count first
        uint32_t best_count;
        uint32_t distinct;  // followers seen: 1 and 2 are held here, more in pairs_
        int32_t other;      // distinct == 2: the follower that is not `best`
        uint32_t other_count;
    };
    struct pair {
        uint64_t key;
        int32_t token;
        uint32_t count;  // 0: an empty slot
    };

    // A table's entries, all bytes zero when allocated (an empty slot is all zero). Large tables
    // take pages straight from the kernel, asking for huge ones: they come zeroed, lookups at
    // random across tens of MB miss the TLB far less, and a dropped table's memory leaves the
    // process at once.
    template <class T>
    class zeroed_table {
      public:
        zeroed_table() = default;
        explicit zeroed_table(std::size_t n) : n_(n) { p_ = static_cast<T*>(allocate(n * sizeof(T), mapped_)); }
        zeroed_table(zeroed_table&& o) noexcept { swap(o); }
        zeroed_table& operator=(zeroed_table&& o) noexcept {
            zeroed_table(std::move(o)).swap(*this);
            return *this;
        }
        ~zeroed_table() { release(p_, n_ * sizeof(T), mapped_); }
        void swap(zeroed_table& o) noexcept {
            std::swap(p_, o.p_);
            std::swap(n_, o.n_);
            std::swap(mapped_, o.mapped_);
        }
        std::size_t size() const noexcept { return n_; }
        bool empty() const noexcept { return n_ == 0; }
        T& operator[](std::size_t i) noexcept { return p_[i]; }
        const T& operator[](std::size_t i) const noexcept { return p_[i]; }
        T* begin() noexcept { return p_; }
        T* end() noexcept { return p_ + n_; }
        const T* begin() const noexcept { return p_; }
        const T* end() const noexcept { return p_ + n_; }

      private:
        T* p_ = nullptr;
        std::size_t n_ = 0;
        bool mapped_ = false;
    };

  private:
    template <class Reader>
    std::string load(Reader& in, std::span<const int32_t> context);
    static void* allocate(std::size_t bytes, bool& mapped);
    static void release(void* p, std::size_t bytes, bool mapped) noexcept;

    slot* find(uint64_t k) noexcept;
    const slot* find(uint64_t k) const noexcept;
    slot& find_or_insert(uint64_t k);
    uint32_t& pair_count(uint64_t k, int32_t token, bool& inserted);
    void count(uint64_t k, int32_t token);
    void grow_slots();
    void grow_pairs();

    zeroed_table<slot> slots_;  // capacity a power of two, or empty
    std::size_t used_ = 0;
    zeroed_table<pair> pairs_;
    std::size_t pairs_used_ = 0;
    int32_t tail_[k_max_order] = {};
    std::size_t tail_len_ = 0;
    std::size_t n_ = 0;
    uint64_t hash_ = 1469598103934665603ull;
};

}  // namespace mneme
