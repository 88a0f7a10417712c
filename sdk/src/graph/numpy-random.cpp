#include "graph/numpy-random.h"

#include <array>

#include "core/error.h"

namespace mneme {
namespace {

// Unsigned 128-bit arithmetic in two halves (portable; PCG64's state is 128 bits).
struct u128 {
    uint64_t hi = 0, lo = 0;
};

// Full 64 x 64 -> 128-bit product.
u128 mul_64x64(uint64_t a, uint64_t b) {
    const uint64_t a_lo = a & 0xffffffffu, a_hi = a >> 32, b_lo = b & 0xffffffffu, b_hi = b >> 32;
    const uint64_t ll = a_lo * b_lo, lh = a_lo * b_hi, hl = a_hi * b_lo, hh = a_hi * b_hi;
    const uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
    return {hh + (lh >> 32) + (hl >> 32) + (mid >> 32), (mid << 32) | (ll & 0xffffffffu)};
}

u128 add(u128 a, u128 b) {
    const uint64_t lo = a.lo + b.lo;
    return {a.hi + b.hi + (lo < a.lo ? 1u : 0u), lo};
}

// a * b mod 2^128.
u128 mul(u128 a, u128 b) {
    u128 r = mul_64x64(a.lo, b.lo);
    r.hi += a.lo * b.hi + a.hi * b.lo;
    return r;
}

// SeedSequence with numpy's defaults (pool of 4 words, no spawn key): the entropy pool, then
// generate_state.
class seed_sequence {
public:
    explicit seed_sequence(uint64_t seed) {
        // An integer seed becomes its 32-bit words, least significant first (0 -> one word 0).
        std::vector<uint32_t> entropy;
        do {
            entropy.push_back(static_cast<uint32_t>(seed & 0xffffffffu));
            seed >>= 32;
        } while (seed);
        uint32_t hash_const = k_init_a;
        auto hashmix = [&](uint32_t value) {
            value ^= hash_const;
            hash_const *= k_mult_a;
            value *= hash_const;
            value ^= value >> k_xshift;
            return value;
        };
        for (std::size_t i = 0; i < pool_.size(); ++i) pool_[i] = hashmix(i < entropy.size() ? entropy[i] : 0u);
        for (std::size_t src = 0; src < pool_.size(); ++src) {
            for (std::size_t dst = 0; dst < pool_.size(); ++dst) {
                if (src != dst) pool_[dst] = mix(pool_[dst], hashmix(pool_[src]));
            }
        }
        for (std::size_t src = pool_.size(); src < entropy.size(); ++src) {
            for (auto& p : pool_) p = mix(p, hashmix(entropy[src]));
        }
    }

    // generate_state(n, uint64): 2n uint32 words, paired little-endian.
    std::vector<uint64_t> generate_u64(std::size_t n) const {
        uint32_t hash_const = k_init_b;
        std::vector<uint32_t> words(2 * n);
        for (std::size_t i = 0; i < words.size(); ++i) {
            uint32_t v = pool_[i % pool_.size()];
            v ^= hash_const;
            hash_const *= k_mult_b;
            v *= hash_const;
            v ^= v >> k_xshift;
            words[i] = v;
        }
        std::vector<uint64_t> out(n);
        for (std::size_t i = 0; i < n; ++i) out[i] = words[2 * i] | (static_cast<uint64_t>(words[2 * i + 1]) << 32);
        return out;
    }

private:
    static uint32_t mix(uint32_t x, uint32_t y) {
        uint32_t r = k_mix_mult_l * x - k_mix_mult_r * y;
        r ^= r >> k_xshift;
        return r;
    }

    static constexpr uint32_t k_init_a = 0x43b0d7e5u, k_mult_a = 0x931e8875u;
    static constexpr uint32_t k_init_b = 0x8b51f9ddu, k_mult_b = 0x58f38dedu;
    static constexpr uint32_t k_mix_mult_l = 0xca01f9ddu, k_mix_mult_r = 0x4973f715u;
    static constexpr int k_xshift = 16;
    std::array<uint32_t, 4> pool_{};
};

// PCG64 (XSL-RR 128/64) as numpy seeds it: state words 0/1 are the initial state (high, low),
// words 2/3 the stream selector.
class pcg64 {
public:
    explicit pcg64(const seed_sequence& ss) {
        const std::vector<uint64_t> v = ss.generate_u64(4);
        const u128 initstate{v[0], v[1]}, initseq{v[2], v[3]};
        inc_ = {(initseq.hi << 1) | (initseq.lo >> 63), (initseq.lo << 1) | 1u};
        state_ = {};
        step();
        state_ = add(state_, initstate);
        step();
    }

    uint64_t next_u64() {
        step();
        const uint64_t x = state_.hi ^ state_.lo;
        const unsigned rot = static_cast<unsigned>(state_.hi >> 58);
        return (x >> rot) | (x << ((64u - rot) & 63u));
    }

    // numpy buffers the high half of a 64-bit draw for the next 32-bit request.
    uint32_t next_u32() {
        if (has_u32_) {
            has_u32_ = false;
            return buffered_u32_;
        }
        const uint64_t v = next_u64();
        has_u32_ = true;
        buffered_u32_ = static_cast<uint32_t>(v >> 32);
        return static_cast<uint32_t>(v & 0xffffffffu);
    }

private:
    void step() { state_ = add(mul(state_, k_mult), inc_); }

    static constexpr u128 k_mult{2549297995355413924ull, 4865540595714422341ull};
    u128 state_, inc_;
    bool has_u32_ = false;
    uint32_t buffered_u32_ = 0;
};

// Lemire's multiply-shift with rejection, values in [0, rng] (numpy's bounded_lemire_uint64).
uint64_t bounded_lemire_u64(pcg64& g, uint64_t rng) {
    const uint64_t excl = rng + 1;
    u128 m = mul_64x64(g.next_u64(), excl);
    if (m.lo < excl) {
        const uint64_t threshold = (UINT64_MAX - rng) % excl;
        while (m.lo < threshold) m = mul_64x64(g.next_u64(), excl);
    }
    return m.hi;
}

// The 32-bit variant numpy switches to when the range fits in 32 bits.
uint32_t bounded_lemire_u32(pcg64& g, uint32_t rng) {
    const uint32_t excl = rng + 1;
    uint64_t m = static_cast<uint64_t>(g.next_u32()) * excl;
    if (static_cast<uint32_t>(m) < excl) {
        const uint32_t threshold = (UINT32_MAX - rng) % excl;
        while (static_cast<uint32_t>(m) < threshold) m = static_cast<uint64_t>(g.next_u32()) * excl;
    }
    return static_cast<uint32_t>(m >> 32);
}

}  // namespace

std::vector<int64_t> numpy_default_rng_integers(uint64_t seed, int64_t high, std::size_t n) {
    if (high < 1) fail(MNEME_ERROR_INTERNAL, "numpy integers: high must be >= 1, got ", high);
    pcg64 g{seed_sequence(seed)};
    const uint64_t rng = static_cast<uint64_t>(high) - 1;  // inclusive range [0, rng]
    std::vector<int64_t> out(n);
    for (auto& v : out) {
        uint64_t x;
        if (rng == 0) {
            x = 0;
        } else if (rng < 0xffffffffu) {
            x = bounded_lemire_u32(g, static_cast<uint32_t>(rng));
        } else if (rng == 0xffffffffu) {
            x = g.next_u32();
        } else {
            x = bounded_lemire_u64(g, rng);
        }
        v = static_cast<int64_t>(x);
    }
    return out;
}

}  // namespace mneme
