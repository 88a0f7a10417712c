#include "decode/ngram-draft.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <istream>
#include <new>
#include <type_traits>

#include "core/large-alloc.h"

namespace mneme {
namespace {

static_assert(sizeof(ngram_drafter::slot) == 32 && std::is_trivially_copyable_v<ngram_drafter::slot>);
static_assert(sizeof(ngram_drafter::pair) == 16 && std::is_trivially_copyable_v<ngram_drafter::pair>);

// Tables from 1 MiB up are mapped (core/large-alloc, never under a sanitizer) and asked for huge
// pages; smaller ones come from calloc.
constexpr std::size_t k_min_capacity = 256;  // a multiple of 64: the sidecar's bitmaps are whole words
constexpr char k_magic[8] = {'M', 'N', 'E', 'N', 'G', 'R', 'A', 'M'};
constexpr uint32_t k_version = 1;
constexpr uint32_t k_byte_order = 0x01020304;
// Far below what a session can hold, and low enough that no count in a valid table can overflow.
constexpr uint64_t k_max_tokens = uint64_t{1} << 31;
constexpr uint64_t k_max_capacity = uint64_t{1} << 32;

// Grown past 3/4 full: linear probing stays short, and a table is never full, so every probe ends.
bool over_load(std::size_t used, std::size_t capacity) {
    return used + 1 > capacity / 4 * 3;
}

bool slot_used(const ngram_drafter::slot& s) noexcept {
    return s.total != 0;
}
bool pair_used(const ngram_drafter::pair& p) noexcept {
    return p.count != 0;
}

// Fibonacci hashing: the keys' high product bits are well mixed whatever their low bits are.
std::size_t home(uint64_t h, std::size_t mask) noexcept {
    return static_cast<std::size_t>((h * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}
uint64_t pair_hash(uint64_t k, int32_t token) noexcept {
    return k ^ (static_cast<uint64_t>(static_cast<uint32_t>(token)) * 0xD6E8FEB86659FD93ull);
}

uint64_t rotl(uint64_t x, int r) noexcept {
    return (x << r) | (x >> (64 - r));
}
uint64_t load_u64(const unsigned char* p) noexcept {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

// A 4-lane 64-bit checksum (xxHash64's round), fed in pieces: the sidecar of a million-token
// context is tens of MB, which a byte-at-a-time hash would take longer to check than the table
// takes to count, and it is checked as the file streams past.
class checksum_state {
  public:
    void update(const unsigned char* p, std::size_t n) noexcept {
        if (n == 0) return;  // p may be null
        len_ += n;
        if (part_n_) {
            const std::size_t k = std::min(n, sizeof(part_) - part_n_);
            std::memcpy(part_ + part_n_, p, k);
            part_n_ += k;
            p += k;
            n -= k;
            if (part_n_ < sizeof(part_)) return;
            round(part_);
            part_n_ = 0;
        }
        for (; n >= 32; p += 32, n -= 32) round(p);
        std::memcpy(part_, p, n);
        part_n_ = n;
    }
    uint64_t finish() const noexcept {
        uint64_t h = rotl(a_, 1) + rotl(b_, 7) + rotl(c_, 12) + rotl(d_, 18) + len_;
        for (std::size_t i = 0; i < part_n_; ++i) h = rotl(h ^ (part_[i] * k_p1), 11) * k_p2;
        h ^= h >> 33;
        h *= k_p2;
        h ^= h >> 29;
        return h;
    }

  private:
    static constexpr uint64_t k_p1 = 0x9E3779B185EBCA87ull, k_p2 = 0xC2B2AE3D27D4EB4Full;
    // Four independent lanes (members the loop keeps in registers): their multiplies overlap.
    void round(const unsigned char* p) noexcept {
        a_ = rotl(a_ + load_u64(p) * k_p2, 31) * k_p1;
        b_ = rotl(b_ + load_u64(p + 8) * k_p2, 31) * k_p1;
        c_ = rotl(c_ + load_u64(p + 16) * k_p2, 31) * k_p1;
        d_ = rotl(d_ + load_u64(p + 24) * k_p2, 31) * k_p1;
    }
    uint64_t a_ = k_p1 + k_p2, b_ = k_p2, c_ = 0, d_ = 0 - k_p1;
    unsigned char part_[32] = {};
    std::size_t part_n_ = 0;
    uint64_t len_ = 0;
};

// A sidecar's bytes, taken in order, from memory or from a stream in pieces small enough to stay
// in cache (so a file of tens of MB never needs a buffer of its size). Everything but the last 8
// bytes (the stored checksum) goes through the checksum as it passes.
class sidecar_reader {
  public:
    explicit sidecar_reader(std::span<const unsigned char> bytes) : size_(bytes.size()), chunk_(bytes) {
        hash(bytes);
        fetched_ = bytes.size();
    }
    sidecar_reader(std::istream& in, uint64_t size) : in_(&in), size_(size) {}

    uint64_t size() const noexcept { return size_; }
    // Copies the next n bytes to dst; false past the end or when the stream fails.
    bool take(void* dst, std::size_t n) {
        if (n == 0) return true;          // an empty table's bitmap: dst may be null
        if (chunk_.size() - pos_ >= n) {  // nearly always: entries are small, pieces large
            std::memcpy(dst, chunk_.data() + pos_, n);
            pos_ += n;
            return true;
        }
        auto* out = static_cast<unsigned char*>(dst);
        while (n) {
            if (pos_ == chunk_.size() && !refill()) return false;
            const std::size_t k = std::min(n, chunk_.size() - pos_);
            std::memcpy(out, chunk_.data() + pos_, k);
            pos_ += k;
            out += k;
            n -= k;
        }
        return true;
    }
    // The checksum of every byte before the last 8, once they have all been taken.
    uint64_t checksum() const noexcept { return sum_.finish(); }

  private:
    static constexpr std::size_t k_piece = std::size_t{256} << 10;

    bool refill() {
        if (!in_ || fetched_ >= size_) return false;
        buf_.resize(k_piece);
        const auto want = static_cast<std::size_t>(std::min<uint64_t>(k_piece, size_ - fetched_));
        in_->read(reinterpret_cast<char*>(buf_.data()), static_cast<std::streamsize>(want));
        if (static_cast<std::size_t>(in_->gcount()) != want) return false;
        chunk_ = std::span<const unsigned char>(buf_.data(), want);
        pos_ = 0;
        hash(chunk_);
        fetched_ += want;
        return true;
    }
    // The part of a piece (starting at fetched_) that lies before the stored checksum.
    void hash(std::span<const unsigned char> piece) noexcept {
        const uint64_t end = size_ >= 8 ? size_ - 8 : 0;
        if (fetched_ >= end) return;
        sum_.update(piece.data(), static_cast<std::size_t>(std::min<uint64_t>(piece.size(), end - fetched_)));
    }

    std::istream* in_ = nullptr;
    uint64_t size_ = 0;
    uint64_t fetched_ = 0;  // bytes of the sidecar in pieces so far
    std::vector<unsigned char> buf_;
    std::span<const unsigned char> chunk_;
    std::size_t pos_ = 0;
    checksum_state sum_;
};

struct header {
    char magic[8];
    uint32_t version;
    uint32_t byte_order;
    uint32_t max_order;
    uint32_t entry_bytes;  // sizeof(slot) << 16 | sizeof(pair): the layouts this build reads
    uint64_t tokens;
    uint64_t context_hash;
    uint64_t slot_capacity, slots_used;
    uint64_t pair_capacity, pairs_used;
};
static_assert(sizeof(header) == 72 && std::is_trivially_copyable_v<header>);

template <class T>
void append(std::vector<unsigned char>& out, const T* v, std::size_t n) {
    const auto* p = reinterpret_cast<const unsigned char*>(v);
    out.insert(out.end(), p, p + n * sizeof(T));
}

// Writes the occupancy bitmap of `table` and then its used entries in order.
template <class Table, class Used>
void append_table(std::vector<unsigned char>& out, const Table& table, Used used) {
    std::vector<uint64_t> bits(table.size() / 64, 0);
    for (std::size_t i = 0; i < table.size(); ++i) {
        if (used(table[i])) bits[i / 64] |= uint64_t{1} << (i % 64);
    }
    append(out, bits.data(), bits.size());
    for (const auto& e : table) {
        if (used(e)) append(out, &e, 1);
    }
}

// Linear probing leaves runs of used slots between empty ones, and a key sits in the run that holds
// its home slot, at or after it. Counting never builds a run anywhere near this long (at 3/4 load
// the longest among millions of slots is a few hundred), so a file that claims one is refused: a
// planted table cannot make every lookup walk half the table.
constexpr std::size_t k_max_run = std::size_t{1} << 14;

// Reads what append_table wrote into a table of `capacity` entries, each used entry placed where it
// was (so probing finds it exactly as in the table that was written) and handed to `check` as it
// lands, while it is in cache. False if the data ends early, the bitmap does not mark exactly `n`
// entries, an entry is not where probing from its home slot would reach it, or `check` refuses one.
template <class T, class Home, class Check>
bool read_table(sidecar_reader& in, std::size_t capacity, std::size_t n, ngram_drafter::zeroed_table<T>& table,
                Home home_of, Check check) {
    const std::size_t words = capacity / 64;
    std::vector<uint64_t> bits(words);
    if (!in.take(bits.data(), words * 8)) return false;
    std::size_t marked = 0;
    std::ptrdiff_t last_empty = 0;  // the highest empty slot; there is one, as n <= 3/4 capacity
    for (std::size_t w = 0; w < words; ++w) {
        marked += static_cast<std::size_t>(std::popcount(bits[w]));
        if (const uint64_t empty = ~bits[w]) {
            last_empty = static_cast<std::ptrdiff_t>(w * 64 + 63 - static_cast<std::size_t>(std::countl_zero(empty)));
        }
    }
    if (marked != n) return false;
    table = ngram_drafter::zeroed_table<T>(capacity);  // empty entries are its zero bytes already
    // Walking up the table, the last empty slot below each used one is where its run starts; the
    // first run may have begun at the end of the table.
    last_empty -= static_cast<std::ptrdiff_t>(capacity);
    std::ptrdiff_t prev_used = -1;
    const std::size_t mask = capacity - 1;
    for (std::size_t w = 0; w < words; ++w) {
        for (uint64_t m = bits[w]; m; m &= m - 1) {
            const std::size_t i = w * 64 + static_cast<std::size_t>(std::countr_zero(m));
            if (static_cast<std::ptrdiff_t>(i) > prev_used + 1) last_empty = static_cast<std::ptrdiff_t>(i) - 1;
            prev_used = static_cast<std::ptrdiff_t>(i);
            T& e = table[i];
            if (!in.take(&e, sizeof(T))) return false;
            const auto run = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(i) - last_empty);
            if (run > k_max_run || ((i - home_of(e, mask)) & mask) >= run || !check(e, i)) return false;
        }
    }
    return true;
}

// What a sidecar's entries must be, as counting leaves them: no count above the tokens counted,
// the best follower's count the largest and its token's own, the followers' counts adding up to the
// total, and every follower a token of the context (drafts are fed to the model: a planted table
// must not make it look up a token id outside the vocabulary). A table that breaks any of these was
// not written by this code and is refused rather than half-trusted.
class entry_checks {
  public:
    explicit entry_checks(std::span<const int32_t> context) : n_(context.size()) {
        // The context's tokens are trusted (the session fed or verified them): ids below a
        // vocabulary of ~10^5, so a bitmap over them is small.
        int32_t max_token = -1;
        for (int32_t t : context) max_token = std::max(max_token, t);
        in_context_.assign(max_token < 0 ? 0 : static_cast<std::size_t>(max_token) + 1, false);
        for (int32_t t : context) {
            if (t >= 0) in_context_[static_cast<std::size_t>(t)] = true;
        }
    }

    bool slot_ok(const ngram_drafter::slot& s, std::size_t i) {
        if (s.total == 0 || s.total > n_ || s.best_count == 0 || s.best_count > s.total || s.distinct == 0 ||
            s.distinct > s.total || !known(s.best)) {
            return false;
        }
        if (s.distinct == 1) return s.best_count == s.total && s.other == 0 && s.other_count == 0;
        if (s.distinct == 2) {
            return known(s.other) && s.other != s.best && s.other_count != 0 && s.other_count <= s.best_count &&
                   uint64_t{s.best_count} + s.other_count == s.total;
        }
        overflowing_.push_back(i);
        return s.other == 0 && s.other_count == 0;
    }
    bool pair_ok(const ngram_drafter::pair& p) const { return p.count != 0 && known(p.token); }

    // Every pair against its slot, whose unused `other` fields (zero, checked) hold for the moment
    // the pair counts summed (other_count) and the pairs seen, with a flag for the best follower's
    // own pair (other). The slot of each pair is a random access into a table of tens of MB: the
    // slots of a block of pairs are fetched together, so that their cache misses overlap.
    bool pairs_add_up(ngram_drafter::zeroed_table<ngram_drafter::slot>& slots,
                      const ngram_drafter::zeroed_table<ngram_drafter::pair>& pairs) const {
        constexpr uint32_t k_best_seen = uint32_t{1} << 31;
        constexpr std::size_t k_block = 16;
        if (slots.empty()) return overflowing_.empty() && std::none_of(pairs.begin(), pairs.end(), pair_used);
        const std::size_t mask = slots.size() - 1;
        std::size_t at[k_block];
        for (std::size_t k0 = 0; k0 < pairs.size(); k0 += k_block) {
            const std::size_t k1 = std::min(pairs.size(), k0 + k_block);
            for (std::size_t k = k0; k < k1; ++k) {
                at[k - k0] = home(pairs[k].key, mask);
                __builtin_prefetch(&slots[at[k - k0]]);
            }
            for (std::size_t k = k0; k < k1; ++k) {
                const auto& p = pairs[k];
                if (p.count == 0) continue;
                std::size_t i = at[k - k0];  // runs are short (checked): the walk ends soon
                while (slots[i].total != 0 && slots[i].key != p.key) i = (i + 1) & mask;
                auto& s = slots[i];
                auto seen = static_cast<uint32_t>(s.other);
                if (s.total == 0 || s.distinct < 3 || p.count > s.best_count || p.count > s.total - s.other_count ||
                    (seen & ~k_best_seen) >= s.distinct) {
                    return false;
                }
                if (p.token == s.best) {
                    if (p.count != s.best_count) return false;
                    seen |= k_best_seen;
                }
                s.other = static_cast<int32_t>(seen + 1);
                s.other_count += p.count;
            }
        }
        // Only the slots with pairs are visited again, not the whole table: all their pairs seen,
        // adding up, the best follower's among them; then back to what was loaded.
        for (std::size_t i : overflowing_) {
            auto& s = slots[i];
            if (s.other_count != s.total || static_cast<uint32_t>(s.other) != (k_best_seen | s.distinct)) return false;
            s.other = 0;
            s.other_count = 0;
        }
        return true;
    }

  private:
    bool known(int32_t t) const {
        return t >= 0 && static_cast<std::size_t>(t) < in_context_.size() && in_context_[static_cast<std::size_t>(t)];
    }

    uint64_t n_;
    std::vector<bool> in_context_;
    std::vector<std::size_t> overflowing_;  // slots whose followers live in the pair table
};

}  // namespace

uint64_t ngram_table_checksum(std::span<const unsigned char> bytes) noexcept {
    checksum_state sum;
    sum.update(bytes.data(), bytes.size());
    return sum.finish();
}

void* ngram_drafter::allocate(std::size_t bytes, bool& mapped) {
    mapped = false;
    if (bytes == 0) return nullptr;
    if (void* p = large_alloc(bytes, 64)) {  // on huge pages where the system allows
        mapped = true;
        return p;
    }
    void* p = std::calloc(bytes, 1);
    if (!p) throw std::bad_alloc();
    return p;
}

void ngram_drafter::release(void* p, std::size_t bytes, bool mapped) noexcept {
    (void)bytes;
    if (!mapped || !large_free(p)) std::free(p);
}

uint64_t token_prefix_hash(std::span<const int32_t> tokens, uint64_t h) noexcept {
    for (int32_t t : tokens) {
        const auto u = static_cast<uint32_t>(t);
        for (int b = 0; b < 4; ++b) {
            h ^= (u >> (8 * b)) & 0xff;
            h *= 1099511628211ull;
        }
    }
    return h;
}

uint64_t ngram_drafter::key(std::span<const int32_t> ctx) noexcept {
    // The order is part of the key, so equal suffixes of different lengths stay apart. A collision
    // only costs a rejected draft.
    uint64_t h = 0x9E3779B97F4A7C15ull * (ctx.size() + 1);
    for (int32_t t : ctx) {
        h ^= static_cast<uint64_t>(static_cast<uint32_t>(t)) + 0x632BE59BD9B4E019ull + (h << 6) + (h >> 2);
        h *= 0xBF58476D1CE4E5B9ull;
    }
    return h;
}

const ngram_drafter::slot* ngram_drafter::find(uint64_t k) const noexcept {
    if (slots_.empty()) return nullptr;
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = home(k, mask);; i = (i + 1) & mask) {
        const slot& s = slots_[i];
        if (s.total == 0) return nullptr;
        if (s.key == k) return &s;
    }
}

ngram_drafter::slot* ngram_drafter::find(uint64_t k) noexcept {
    return const_cast<slot*>(static_cast<const ngram_drafter&>(*this).find(k));
}

void ngram_drafter::grow_slots() {
    zeroed_table<slot> old(std::max(k_min_capacity, slots_.size() * 2));
    old.swap(slots_);
    const std::size_t mask = slots_.size() - 1;
    for (const slot& s : old) {
        if (s.total == 0) continue;
        std::size_t i = home(s.key, mask);
        while (slots_[i].total != 0) i = (i + 1) & mask;
        slots_[i] = s;
    }
}

void ngram_drafter::grow_pairs() {
    zeroed_table<pair> old(std::max(k_min_capacity, pairs_.size() * 2));
    old.swap(pairs_);
    const std::size_t mask = pairs_.size() - 1;
    for (const pair& p : old) {
        if (p.count == 0) continue;
        std::size_t i = home(pair_hash(p.key, p.token), mask);
        while (pairs_[i].count != 0) i = (i + 1) & mask;
        pairs_[i] = p;
    }
}

ngram_drafter::slot& ngram_drafter::find_or_insert(uint64_t k) {
    if (over_load(used_, slots_.size())) grow_slots();
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = home(k, mask);; i = (i + 1) & mask) {
        slot& s = slots_[i];
        if (s.total == 0) {
            ++used_;
            s.key = k;
            return s;
        }
        if (s.key == k) return s;
    }
}

uint32_t& ngram_drafter::pair_count(uint64_t k, int32_t token, bool& inserted) {
    if (over_load(pairs_used_, pairs_.size())) grow_pairs();
    const std::size_t mask = pairs_.size() - 1;
    for (std::size_t i = home(pair_hash(k, token), mask);; i = (i + 1) & mask) {
        pair& p = pairs_[i];
        if (p.count == 0) {
            ++pairs_used_;
            p.key = k;
            p.token = token;
            inserted = true;
            return p.count;
        }
        if (p.key == k && p.token == token) {
            inserted = false;
            return p.count;
        }
    }
}

void ngram_drafter::count(uint64_t k, int32_t token) {
    slot& s = find_or_insert(k);
    // The same rule as a map of counts: a follower becomes `best` when its count exceeds the best
    // count, so among equal counts the one that reached it first stays.
    if (s.total == 0) {
        s = slot{k, 1, token, 1, 1, 0, 0};
        return;
    }
    ++s.total;
    if (s.distinct >= 3) {
        bool inserted = false;
        uint32_t& c = pair_count(k, token, inserted);
        if (inserted) ++s.distinct;
        if (++c > s.best_count) {
            s.best = token;
            s.best_count = c;
        }
        return;
    }
    if (s.best == token) {
        ++s.best_count;
        return;
    }
    if (s.distinct == 1) {
        s.distinct = 2;
        s.other = token;
        s.other_count = 1;
        return;
    }
    if (s.other == token) {
        if (++s.other_count > s.best_count) {
            std::swap(s.best, s.other);
            std::swap(s.best_count, s.other_count);
        }
        return;
    }
    // A third follower: all of them move to the pair table. `s` stays valid (another array).
    bool inserted = false;
    pair_count(k, s.best, inserted) = s.best_count;
    pair_count(k, s.other, inserted) = s.other_count;
    pair_count(k, token, inserted) = 1;
    s.distinct = 3;
    s.other = 0;
    s.other_count = 0;  // a first count of 1 never exceeds best_count
}

void ngram_drafter::push(std::span<const int32_t> tokens) {
    for (int32_t t : tokens) {
        for (std::size_t order = 1; order <= tail_len_; ++order) {
            count(key(std::span<const int32_t>(tail_, tail_len_).last(order)), t);
        }
        if (tail_len_ < k_max_order) {
            tail_[tail_len_++] = t;
        } else {
            std::memmove(tail_, tail_ + 1, (k_max_order - 1) * sizeof(int32_t));
            tail_[k_max_order - 1] = t;
        }
        ++n_;
    }
    hash_ = token_prefix_hash(tokens, hash_);
}

void ngram_drafter::clear() noexcept {
    slots_ = {};
    pairs_ = {};
    used_ = pairs_used_ = 0;
    tail_len_ = 0;
    n_ = 0;
    hash_ = token_prefix_hash({});
}

void ngram_drafter::reset(std::span<const int32_t> context) {
    clear();
    push(context);
}

std::size_t ngram_drafter::memory_bytes() const noexcept {
    return slots_.size() * sizeof(slot) + pairs_.size() * sizeof(pair);
}

ngram_drafter::context_counts ngram_drafter::lookup(std::span<const int32_t> ctx) const noexcept {
    const slot* s = find(key(ctx));
    if (!s) return {};
    return {s->total, s->best, s->best_count, s->distinct};
}

std::vector<int32_t> ngram_drafter::propose(int32_t next, double threshold, std::size_t max_tokens) const {
    std::vector<int32_t> out;
    // The tail the walk continues from: the context's last tokens, `next`, then the drafts.
    std::vector<int32_t> tail(tail_, tail_ + tail_len_);
    tail.push_back(next);
    while (out.size() < max_tokens) {
        const slot* found = nullptr;
        for (std::size_t order = std::min<std::size_t>(k_max_order, tail.size()); order >= 1 && !found; --order) {
            found = find(key(std::span<const int32_t>(tail).last(order)));
        }
        if (!found || static_cast<double>(found->best_count) < threshold * static_cast<double>(found->total)) break;
        out.push_back(found->best);
        tail.push_back(found->best);
    }
    return out;
}

std::vector<unsigned char> ngram_drafter::serialize() const {
    header h{};
    std::memcpy(h.magic, k_magic, sizeof(k_magic));
    h.version = k_version;
    h.byte_order = k_byte_order;
    h.max_order = k_max_order;
    h.entry_bytes = static_cast<uint32_t>(sizeof(slot) << 16 | sizeof(pair));
    h.tokens = n_;
    h.context_hash = hash_;
    h.slot_capacity = slots_.size();
    h.slots_used = used_;
    h.pair_capacity = pairs_.size();
    h.pairs_used = pairs_used_;
    std::vector<unsigned char> out;
    out.reserve(sizeof(h) + (slots_.size() + pairs_.size()) / 8 + used_ * sizeof(slot) + pairs_used_ * sizeof(pair) +
                8);
    append(out, &h, 1);
    append_table(out, slots_, slot_used);
    append_table(out, pairs_, pair_used);
    const uint64_t sum = ngram_table_checksum(out);
    append(out, &sum, 1);
    return out;
}

std::string ngram_drafter::deserialize(std::span<const unsigned char> bytes, std::span<const int32_t> context) {
    sidecar_reader in(bytes);
    return load(in, context);
}

std::string ngram_drafter::deserialize(std::istream& stream, uint64_t size, std::span<const int32_t> context) {
    sidecar_reader in(stream, size);
    return load(in, context);
}

template <class Reader>
std::string ngram_drafter::load(Reader& in, std::span<const int32_t> context) {
    clear();
    header h;
    if (in.size() < sizeof(h) + 8 || !in.take(&h, sizeof(h))) return "truncated";
    if (std::memcmp(h.magic, k_magic, sizeof(k_magic)) != 0) return "not an n-gram table";
    if (h.version != k_version || h.byte_order != k_byte_order || h.max_order != k_max_order ||
        h.entry_bytes != (sizeof(slot) << 16 | sizeof(pair))) {
        return "another format version";
    }
    if (h.tokens != context.size() || h.context_hash != token_prefix_hash(context)) return "built from other tokens";
    // Capacities are powers of two between a quarter and three quarters full (as growing leaves
    // them), and the file's length is exactly what the header describes: what a header makes us
    // allocate is bounded by the entries the file really holds, and every probe meets an empty slot.
    const auto valid_capacity = [](uint64_t cap, uint64_t used) {
        if (cap == 0) return used == 0;
        return std::has_single_bit(cap) && cap >= k_min_capacity && cap <= k_max_capacity && used <= cap / 4 * 3 &&
               (cap == k_min_capacity || cap <= used * 4);
    };
    if (h.tokens >= k_max_tokens || !valid_capacity(h.slot_capacity, h.slots_used) ||
        !valid_capacity(h.pair_capacity, h.pairs_used) || h.slots_used > h.tokens * k_max_order ||
        h.pairs_used > h.tokens * k_max_order ||
        in.size() != sizeof(h) + (h.slot_capacity + h.pair_capacity) / 8 + h.slots_used * sizeof(slot) +
                         h.pairs_used * sizeof(pair) + 8) {
        return "inconsistent sizes";
    }
    zeroed_table<slot> slots;
    zeroed_table<pair> pairs;
    entry_checks checks(context);
    if (!read_table(
            in, h.slot_capacity, h.slots_used, slots, [](const slot& e, std::size_t mask) { return home(e.key, mask); },
            [&](const slot& e, std::size_t i) { return checks.slot_ok(e, i); }) ||
        !read_table(
            in, h.pair_capacity, h.pairs_used, pairs,
            [](const pair& e, std::size_t mask) { return home(pair_hash(e.key, e.token), mask); },
            [&](const pair& e, std::size_t) { return checks.pair_ok(e); })) {
        // Entries are checked as they arrive, before the checksum is known: a corrupt file may
        // fail here first. Either way it is refused.
        return "inconsistent table";
    }
    uint64_t stored = 0;
    if (!in.take(&stored, 8)) return "truncated";
    if (in.checksum() != stored) return "checksum mismatch (corrupt file)";
    if (!checks.pairs_add_up(slots, pairs)) return "inconsistent counts";

    slots_ = std::move(slots);
    used_ = h.slots_used;
    pairs_ = std::move(pairs);
    pairs_used_ = h.pairs_used;
    tail_len_ = std::min<std::size_t>(context.size(), k_max_order);
    std::copy(context.end() - static_cast<std::ptrdiff_t>(tail_len_), context.end(), tail_);
    n_ = context.size();
    hash_ = h.context_hash;
    return {};
}

}  // namespace mneme
