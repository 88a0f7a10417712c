// n-gram drafting: what the drafter proposes (against a brute-force reference on random sequences,
// ties included), that its sidecar round-trips exactly and that corrupt, truncated or planted
// sidecars are refused, and that speculative acceptance keeps the sampled distribution exactly
// (chi-square over many draws on a tiny vocabulary, fixed seed).
#include <catch2/catch.hpp>

#include <array>
#include <cstring>
#include <map>
#include <random>
#include <sstream>
#include <vector>

#include "decode/ngram-draft.h"
#include "session/sampler.h"
#include "session/snapshot-store.h"

using namespace mneme;

namespace {

// The drafter's definition, written the slow way: for a context (1..4 tokens), every position it
// occurs at in `seq` followed by a token; the best follower is the one with the highest count, and
// among equal counts the one whose count reached that value first.
struct reference {
    const std::vector<int32_t>& seq;

    ngram_drafter::context_counts counts(const std::vector<int32_t>& ctx) const {
        std::map<int32_t, uint32_t> final_count;
        std::vector<int32_t> followers;  // in order of occurrence
        for (std::size_t i = ctx.size(); i < seq.size(); ++i) {
            if (std::equal(ctx.begin(), ctx.end(), seq.begin() + static_cast<std::ptrdiff_t>(i - ctx.size()))) {
                ++final_count[seq[i]];
                followers.push_back(seq[i]);
            }
        }
        ngram_drafter::context_counts c;
        if (followers.empty()) return c;
        c.total = static_cast<uint32_t>(followers.size());
        c.distinct = static_cast<uint32_t>(final_count.size());
        for (const auto& [t, k] : final_count) c.best_count = std::max(c.best_count, k);
        // The first time any follower's running count reaches the maximum decides.
        std::map<int32_t, uint32_t> running;
        for (int32_t t : followers) {
            if (++running[t] == c.best_count) {
                c.best = t;
                break;
            }
        }
        return c;
    }

    std::vector<int32_t> propose(int32_t next, double threshold, std::size_t max_tokens) const {
        std::vector<int32_t> tail(seq.end() - static_cast<std::ptrdiff_t>(std::min<std::size_t>(seq.size(), 4)),
                                  seq.end());
        tail.push_back(next);
        std::vector<int32_t> out;
        while (out.size() < max_tokens) {
            ngram_drafter::context_counts found;
            for (std::size_t order = std::min<std::size_t>(4, tail.size()); order >= 1 && found.total == 0; --order) {
                found = counts(std::vector<int32_t>(tail.end() - static_cast<std::ptrdiff_t>(order), tail.end()));
            }
            if (found.total == 0 ||
                static_cast<double>(found.best_count) < threshold * static_cast<double>(found.total)) {
                break;
            }
            out.push_back(found.best);
            tail.push_back(found.best);
        }
        return out;
    }
};

// Random text with repeats: fresh tokens from a small vocabulary (so ties and many followers are
// common) and copies of earlier spans.
std::vector<int32_t> repetitive(std::mt19937& rng, std::size_t n, int32_t vocab) {
    std::vector<int32_t> out;
    std::uniform_int_distribution<int32_t> tok(0, vocab - 1);
    while (out.size() < n) {
        if (out.size() > 8 && rng() % 3 == 0) {
            const std::size_t from = rng() % (out.size() - 4), len = 2 + rng() % 12;
            for (std::size_t i = 0; i < len && out.size() < n; ++i) out.push_back(out[from + i % (out.size() - from)]);
        } else {
            out.push_back(tok(rng));
        }
    }
    return out;
}

std::vector<int32_t> ctx_of(const std::vector<int32_t>& seq, std::size_t end, std::size_t order) {
    return std::vector<int32_t>(seq.begin() + static_cast<std::ptrdiff_t>(end - order),
                                seq.begin() + static_cast<std::ptrdiff_t>(end));
}

void check_counts(const ngram_drafter& d, const reference& ref, const std::vector<int32_t>& ctx) {
    const auto want = ref.counts(ctx);
    const auto got = d.lookup(ctx);
    CHECK(got.total == want.total);
    CHECK(got.distinct == want.distinct);
    CHECK(got.best_count == want.best_count);
    if (want.total) CHECK(got.best == want.best);
}

}  // namespace

TEST_CASE("n-gram drafter continues what the context repeated", "[draft]") {
    ngram_drafter d;
    const std::vector<int32_t> ctx{1, 2, 3, 4, 5, 9, 1, 2, 3, 4, 5, 9, 1, 2};
    d.reset(ctx);
    CHECK(d.propose(3, 0.92, 5) == std::vector<int32_t>{4, 5, 9, 1, 2});
    CHECK(d.propose(3, 0.92, 2) == std::vector<int32_t>{4, 5});
    CHECK(d.propose(77, 0.92, 5).empty());  // never seen
    // The longest context seen ("0 7") was followed by 8 once and 6 once: share 1/2.
    ngram_drafter e;
    e.reset(std::vector<int32_t>{7, 8, 0, 7, 8, 0, 7, 6, 0});
    CHECK(e.propose(7, 0.5, 1) == std::vector<int32_t>{8});
    CHECK(e.propose(7, 0.92, 1).empty());

    e.push(std::vector<int32_t>{7, 8});
    CHECK(e.size() == 11);
    CHECK(e.tail().size() == 4);
    CHECK(std::vector<int32_t>(e.tail().begin(), e.tail().end()) == std::vector<int32_t>{6, 0, 7, 8});
}

TEST_CASE("n-gram drafter: among equal counts the follower that reached the count first stays best", "[draft]") {
    ngram_drafter d;
    // After "5": 1, 2, 2, 1, 3, 3 — 1 and 2 and 3 all end at 2; 2 reached 2 first.
    d.reset(std::vector<int32_t>{5, 1, 5, 2, 5, 2, 5, 1, 5, 3, 5, 3});
    const auto c = d.lookup(std::vector<int32_t>{5});
    CHECK(c.total == 6);
    CHECK(c.distinct == 3);
    CHECK(c.best_count == 2);
    CHECK(c.best == 2);
    // Two followers (held inline): after "4" come 8, 9, 9, 8 — 9 overtook at 2 and keeps the tie.
    d.reset(std::vector<int32_t>{4, 8, 4, 9, 4, 9, 4, 8});
    CHECK(d.lookup(std::vector<int32_t>{4}).best == 9);
    CHECK(d.lookup(std::vector<int32_t>{4}).best_count == 2);
    CHECK(d.lookup(std::vector<int32_t>{4}).distinct == 2);
    // ... until 8 reaches 3.
    d.push(std::vector<int32_t>{4, 8});
    CHECK(d.lookup(std::vector<int32_t>{4}).best == 8);
    CHECK(d.lookup(std::vector<int32_t>{4}).best_count == 3);
    CHECK(d.lookup(std::vector<int32_t>{4}).total == 5);
}

TEST_CASE("n-gram drafter matches a brute-force reference on random sequences", "[draft]") {
    std::mt19937 rng(20240611);
    for (int round = 0; round < 60; ++round) {
        const int32_t vocab = round % 3 == 0 ? 3 : (round % 3 == 1 ? 12 : 300);
        const std::size_t n = 20 + rng() % 600;
        const auto seq = repetitive(rng, n, vocab);
        INFO("round " << round << " vocab " << vocab << " n " << n);
        ngram_drafter d;
        // Incremental pushes in random pieces count exactly what one reset does.
        for (std::size_t at = 0; at < seq.size();) {
            const std::size_t len = std::min<std::size_t>(seq.size() - at, 1 + rng() % 7);
            d.push(std::span<const int32_t>(seq).subspan(at, len));
            at += len;
        }
        ngram_drafter whole;
        whole.reset(seq);
        CHECK(d.serialize() == whole.serialize());
        CHECK(d.size() == seq.size());
        CHECK(d.context_hash() == snapshot_store::prefix_hash(seq));

        const reference ref{seq};
        for (int k = 0; k < 40; ++k) {
            const std::size_t end = 1 + rng() % seq.size();
            const std::size_t order = 1 + rng() % std::min<std::size_t>(4, end);
            check_counts(d, ref, ctx_of(seq, end, order));
        }
        check_counts(d, ref, {vocab + 5});  // never seen
        for (int k = 0; k < 20; ++k) {
            const int32_t next = static_cast<int32_t>(rng() % static_cast<uint32_t>(vocab + 1));
            const double threshold = std::array<double, 5>{1e-6, 0.3, 0.5, 0.92, 1.0}[rng() % 5];
            const std::size_t max_tokens = rng() % 16;
            CHECK(d.propose(next, threshold, max_tokens) == ref.propose(next, threshold, max_tokens));
        }
    }
}

TEST_CASE("n-gram drafter: every context of a long random sequence against the reference", "[draft]") {
    // Small vocabulary and enough length that order-1 and order-2 contexts get many followers (the
    // pair table, its growth) while order-4 ones mostly keep one or two (inline).
    std::mt19937 rng(7);
    const auto seq = repetitive(rng, 3000, 40);
    ngram_drafter d;
    d.reset(seq);
    const reference ref{seq};
    for (std::size_t end = 1; end <= seq.size(); end += 3) {
        for (std::size_t order = 1; order <= std::min<std::size_t>(4, end); ++order)
            check_counts(d, ref, ctx_of(seq, end, order));
    }
    CHECK(d.contexts() > 1000);
    CHECK(d.memory_bytes() > 0);
    d.clear();
    CHECK(d.size() == 0);
    CHECK(d.memory_bytes() == 0);
    CHECK(d.propose(seq[0], 0.5, 4).empty());
}

TEST_CASE("n-gram sidecar: a saved table loads back exactly and keeps counting identically", "[draft]") {
    std::mt19937 rng(99);
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{5}, std::size_t{700}, std::size_t{20000}}) {
        const auto seq = repetitive(rng, n, n > 1000 ? 2000 : 30);
        ngram_drafter built;
        built.reset(seq);
        const auto bytes = built.serialize();
        ngram_drafter loaded;
        loaded.push(std::vector<int32_t>{1, 2, 3});  // replaced by the load
        REQUIRE(loaded.deserialize(bytes, seq).empty());
        // Streamed in pieces (the larger tables span several), as the session reads a file.
        ngram_drafter streamed;
        std::istringstream in(std::string(bytes.begin(), bytes.end()));
        REQUIRE(streamed.deserialize(in, bytes.size(), seq).empty());
        CHECK(streamed.serialize() == bytes);
        CHECK(loaded.size() == seq.size());
        CHECK(loaded.context_hash() == built.context_hash());
        CHECK(loaded.serialize() == bytes);
        CHECK(loaded.contexts() == built.contexts());
        for (int k = 0; k < 50; ++k) {
            const int32_t next = n ? seq[rng() % n] : 1;
            CHECK(loaded.propose(next, 0.3, 8) == built.propose(next, 0.3, 8));
        }
        const auto more = repetitive(rng, 300, 30);
        built.push(more);
        loaded.push(more);
        CHECK(loaded.serialize() == built.serialize());
    }
}

TEST_CASE("n-gram sidecar: only the exact tokens it was built from", "[draft]") {
    std::mt19937 rng(5);
    const auto seq = repetitive(rng, 500, 50);
    ngram_drafter d;
    d.reset(seq);
    const auto bytes = d.serialize();
    ngram_drafter e;
    auto other = seq;
    other[250] = other[250] == 1 ? 2 : 1;
    CHECK(e.deserialize(bytes, other) == "built from other tokens");
    CHECK(e.size() == 0);
    CHECK_FALSE(e.deserialize(bytes, std::span<const int32_t>(seq).first(499)).empty());
    auto longer = seq;
    longer.push_back(3);
    CHECK_FALSE(e.deserialize(bytes, longer).empty());
    CHECK(e.size() == 0);
    CHECK(e.propose(seq[10], 1e-6, 4).empty());
}

TEST_CASE("n-gram sidecar: truncated, flipped and garbage bytes are refused, never trusted", "[draft]") {
    std::mt19937 rng(1234);
    const auto seq = repetitive(rng, 400, 20);
    ngram_drafter d;
    d.reset(seq);
    const auto good = d.serialize();
    ngram_drafter e;
    REQUIRE(e.deserialize(good, seq).empty());
    for (std::size_t len = 0; len < good.size(); len += (len < 200 ? 1 : 1 + rng() % 97)) {
        CHECK_FALSE(e.deserialize(std::span<const unsigned char>(good).first(len), seq).empty());
        CHECK(e.size() == 0);
    }
    auto grown = good;
    grown.push_back(0);
    CHECK_FALSE(e.deserialize(grown, seq).empty());
    // A stream that ends before the size it was announced with (a file truncated while read), or
    // announced shorter or longer than the table.
    for (std::size_t len : {std::size_t{0}, std::size_t{50}, good.size() / 2, good.size() - 1}) {
        std::istringstream in(std::string(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(len)));
        CHECK_FALSE(e.deserialize(in, good.size(), seq).empty());
        std::istringstream whole(std::string(good.begin(), good.end()));
        CHECK_FALSE(e.deserialize(whole, len, seq).empty());
    }
    std::istringstream longer(std::string(good.begin(), good.end()) + "xyz");
    CHECK_FALSE(e.deserialize(longer, good.size() + 3, seq).empty());
    std::istringstream exact(std::string(good.begin(), good.end()));
    CHECK(e.deserialize(exact, good.size(), seq).empty());
    // Every bit of the header, and random bits everywhere else.
    for (std::size_t bit = 0; bit < 8 * 80; ++bit) {
        auto bad = good;
        bad[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
        CHECK_FALSE(e.deserialize(bad, seq).empty());
    }
    for (int k = 0; k < 3000; ++k) {
        auto bad = good;
        for (int f = 0, flips = 1 + static_cast<int>(rng() % 4); f < flips; ++f) {
            bad[rng() % bad.size()] ^= static_cast<unsigned char>(1u + rng() % 255);
        }
        if (bad == good) continue;
        CHECK_FALSE(e.deserialize(bad, seq).empty());
    }
    for (int k = 0; k < 200; ++k) {
        std::vector<unsigned char> junk(rng() % 4096);
        for (auto& b : junk) b = static_cast<unsigned char>(rng());
        if (junk.size() >= 8 && k % 2) std::memcpy(junk.data(), good.data(), std::min<std::size_t>(junk.size(), 80));
        CHECK_FALSE(e.deserialize(junk, seq).empty());
    }
}

namespace {

// A sidecar whose checksum is right but whose content is not what counting produces: a planted
// file, or a bug in a writer. Edits the entry or header field at `offset` and re-signs the file.
std::vector<unsigned char> forge(std::vector<unsigned char> bytes, std::size_t offset, const void* value,
                                 std::size_t size) {
    std::memcpy(bytes.data() + offset, value, size);
    const uint64_t sum = ngram_table_checksum(std::span<const unsigned char>(bytes).first(bytes.size() - 8));
    std::memcpy(bytes.data() + bytes.size() - 8, &sum, 8);
    return bytes;
}

}  // namespace

TEST_CASE("n-gram sidecar: a re-signed file with impossible counts or sizes is refused", "[draft]") {
    std::mt19937 rng(77);
    const auto seq = repetitive(rng, 3000, 25);  // some contexts with 3+ followers (the pair table)
    ngram_drafter d;
    d.reset(seq);
    const auto good = d.serialize();
    ngram_drafter e;
    // Re-signing an unchanged file keeps it valid: the forgeries below fail on content alone.
    const uint32_t version = 1;
    REQUIRE(e.deserialize(forge(good, 8, &version, 4), seq).empty());

    // Header: capacities, counts and the token count.
    constexpr std::size_t k_tokens = 24, k_slot_cap = 40, k_slots_used = 48, k_pair_cap = 56, k_pairs_used = 64;
    for (std::size_t field : {k_tokens, k_slot_cap, k_slots_used, k_pair_cap, k_pairs_used}) {
        for (uint64_t v :
             {uint64_t{0}, uint64_t{1}, uint64_t{255}, uint64_t{1} << 20, uint64_t{1} << 40, ~uint64_t{0}}) {
            CHECK_FALSE(e.deserialize(forge(good, field, &v, 8), seq).empty());
        }
    }
    // Entries: every 4-byte field of the first entries of both tables, set to values counting
    // never produces there (a token outside the context, counts above the total or the length).
    uint64_t slot_cap, pair_cap, slots_used;
    std::memcpy(&slot_cap, good.data() + k_slot_cap, 8);
    std::memcpy(&slots_used, good.data() + k_slots_used, 8);
    std::memcpy(&pair_cap, good.data() + k_pair_cap, 8);
    const std::size_t slots_at = 72 + slot_cap / 8;
    const std::size_t pairs_at = slots_at + slots_used * 32 + pair_cap / 8;
    REQUIRE(pair_cap > 0);
    // Some edits give a table that counting could have produced (a follower swapped for another
    // token of the context); those may load, but what they propose must still come from the context.
    std::vector<bool> in_context(25, false);
    for (int32_t t : seq) in_context[static_cast<std::size_t>(t)] = true;
    int refused = 0, tried = 0;
    const auto attempt = [&](std::size_t offset, uint32_t v) {
        ++tried;
        if (!e.deserialize(forge(good, offset, &v, 4), seq).empty()) {
            ++refused;
            CHECK(e.size() == 0);
            return;
        }
        for (int32_t next = 0; next < 25; ++next) {
            for (int32_t t : e.propose(next, 1e-6, 15)) {
                CHECK(t >= 0);
                CHECK(t < 25);
                if (t >= 0 && t < 25) CHECK(in_context[static_cast<std::size_t>(t)]);
            }
        }
    };
    for (std::size_t entry = 0; entry < 64; ++entry) {
        for (std::size_t field = 8; field < 32; field += 4) {
            for (uint32_t v : {0u, 1u, 7777u, 0x7fffffffu, 0xffffffffu}) attempt(slots_at + entry * 32 + field, v);
        }
        for (std::size_t field = 8; field < 16; field += 4) {
            for (uint32_t v : {0u, 1u, 7777u, 0x7fffffffu, 0xffffffffu}) attempt(pairs_at + entry * 16 + field, v);
        }
    }
    INFO(refused << " of " << tried << " forged entries refused");
    CHECK(refused > tried * 3 / 4);
    // A key moved to another entry's slot: found where probing would never look, or duplicated.
    uint64_t key0;
    std::memcpy(&key0, good.data() + slots_at, 8);
    CHECK_FALSE(e.deserialize(forge(good, slots_at + 32, &key0, 8), seq).empty());
    CHECK(e.size() == 0);
}

TEST_CASE("n-gram sidecar: a planted table with one huge probe run is refused", "[draft]") {
    // Entries whose home slots are all slot 0, packed into one run: every lookup would walk it.
    // Everything else about the table is as counting could leave it, and the file is re-signed.
    std::vector<int32_t> context(6000);
    for (std::size_t i = 0; i < context.size(); ++i) context[i] = static_cast<int32_t>(i % 50);
    const auto planted = [&](std::size_t run) {
        constexpr uint64_t cap = 32768;
        // key * 0x9E3779B97F4A7C15 == j << 47 (mod 2^64): home slot 0 in a table of 2^15.
        uint64_t inv = 0x9E3779B97F4A7C15ull;  // Newton's iteration for the inverse mod 2^64
        for (int k = 0; k < 6; ++k) inv *= 2 - 0x9E3779B97F4A7C15ull * inv;
        std::vector<unsigned char> out;
        const auto put = [&](const auto& v) {
            const auto* b = reinterpret_cast<const unsigned char*>(&v);
            out.insert(out.end(), b, b + sizeof(v));
        };
        out.insert(out.end(), {'M', 'N', 'E', 'N', 'G', 'R', 'A', 'M'});
        put(uint32_t{1});
        put(uint32_t{0x01020304});
        put(uint32_t{4});
        put(uint32_t{32 << 16 | 16});
        put(uint64_t{context.size()});
        put(token_prefix_hash(context));
        put(cap);
        put(uint64_t{run});
        put(uint64_t{0});
        put(uint64_t{0});
        std::vector<uint64_t> bits(cap / 64, 0);
        for (std::size_t i = 0; i < run; ++i) bits[i / 64] |= uint64_t{1} << (i % 64);
        for (uint64_t w : bits) put(w);
        for (std::size_t j = 0; j < run; ++j) {
            put(ngram_drafter::slot{inv * ((j + 1) << 47), 1, 7, 1, 1, 0, 0});
        }
        put(ngram_table_checksum(out));
        return out;
    };
    ngram_drafter d;
    CHECK(d.deserialize(planted(16000), context).empty());  // long, but within what is allowed
    CHECK(d.lookup(std::vector<int32_t>{1}).total == 0);
    CHECK(d.deserialize(planted(20000), context) == "inconsistent table");
}

TEST_CASE("speculative acceptance keeps the distribution exactly", "[draft]") {
    const std::vector<double> p{0.05, 0.4, 0.25, 0.2, 0.1};
    mneme_sampling_params sp = MNEME_SAMPLING_PARAMS_INIT;
    sp.temperature = 1.0f;
    sp.seed = 12345;
    sampler s(sp);
    for (int32_t draft : {0, 1, 3}) {
        const int n = 20000;
        std::vector<int> hist(p.size(), 0);
        for (int i = 0; i < n; ++i) ++hist[static_cast<std::size_t>(s.verify_draft(p, draft))];
        double chi2 = 0;
        for (std::size_t k = 0; k < p.size(); ++k) {
            const double e = n * p[k];
            chi2 += (hist[k] - e) * (hist[k] - e) / e;
        }
        INFO("draft " << draft << " chi2 " << chi2);
        CHECK(chi2 < 18.47);  // 4 degrees of freedom, p = 0.001
    }
}
