#include "graph/engram-hash.h"

#include <algorithm>
#include <unordered_set>

#include "core/error.h"
#include "graph/numpy-random.h"

namespace mneme {
namespace {

bool is_prime(int64_t n) {
    if (n < 2) return false;
    if (n % 2 == 0) return n == 2;
    for (int64_t f = 3; f <= n / f; f += 2) {
        if (n % f == 0) return false;
    }
    return true;
}

}  // namespace

std::vector<int64_t> engram_multipliers(int64_t seed, int64_t layer_id, int64_t n_max, int64_t compressed_vocab) {
    if (compressed_vocab < 1 || n_max < 1 || seed < 0 || layer_id < 0) {
        fail(MNEME_ERROR_INTERNAL, "engram_multipliers: bad arguments");
    }
    const int64_t half = std::max<int64_t>(1, (INT64_MAX / compressed_vocab) / 2);
    const uint64_t rng_seed = static_cast<uint64_t>(seed) + 10007u * static_cast<uint64_t>(layer_id);
    std::vector<int64_t> m = numpy_default_rng_integers(rng_seed, half, static_cast<std::size_t>(n_max));
    for (auto& v : m) v = v * 2 + 1;
    return m;
}

std::vector<std::vector<int64_t>> engram_table_primes(std::span<const int64_t> layer_ids, int64_t n_max,
                                                      int64_t n_heads, std::span<const int64_t> vocab_sizes) {
    if (static_cast<int64_t>(vocab_sizes.size()) != n_max - 1) {
        fail(MNEME_ERROR_INTERNAL, "engram_table_primes: ", vocab_sizes.size(), " vocab sizes for ", n_max - 1,
             " orders");
    }
    std::unordered_set<int64_t> used;
    std::vector<std::vector<int64_t>> out;
    for (std::size_t l = 0; l < layer_ids.size(); ++l) {
        std::vector<int64_t> primes;
        for (int64_t n = 2; n <= n_max; ++n) {
            int64_t start = vocab_sizes[static_cast<std::size_t>(n - 2)] - 1;
            for (int64_t j = 0; j < n_heads; ++j) {
                int64_t p = start + 1;
                while (!is_prime(p) || used.count(p)) ++p;
                used.insert(p);
                primes.push_back(p);
                start = p;
            }
        }
        out.push_back(std::move(primes));
    }
    return out;
}

std::vector<int64_t> engram_offsets(std::span<const int64_t> primes) {
    std::vector<int64_t> off(primes.size());
    int64_t sum = 0;
    for (std::size_t i = 0; i < primes.size(); ++i) {
        off[i] = sum;
        sum += primes[i];
    }
    return off;
}

std::vector<int64_t> engram_row_ids(const engram_layer_hash& h, int64_t n_max, int64_t n_heads,
                                    std::span<const int64_t> history, std::span<const int64_t> canon) {
    const int64_t back = n_max - 1, cols = (n_max - 1) * n_heads;
    if (static_cast<int64_t>(history.size()) != back || static_cast<int64_t>(h.multipliers.size()) != n_max ||
        static_cast<int64_t>(h.primes.size()) != cols || h.offsets.size() != h.primes.size()) {
        fail(MNEME_ERROR_INTERNAL, "engram_row_ids: inconsistent hash tables");
    }
    std::vector<int64_t> ids(history.begin(), history.end());
    ids.insert(ids.end(), canon.begin(), canon.end());
    std::vector<int64_t> rows(canon.size() * static_cast<std::size_t>(cols));
    for (std::size_t t = 0; t < canon.size(); ++t) {
        const std::size_t at = static_cast<std::size_t>(back) + t;  // token t in `ids`
        // Unsigned arithmetic: the values are non-negative and the products fit in 63 bits by the
        // choice of the multipliers' range, so this equals the demo's int64 arithmetic.
        auto term = [&](int64_t k) {
            return static_cast<uint64_t>(ids[at - static_cast<std::size_t>(k)]) *
                   static_cast<uint64_t>(h.multipliers[static_cast<std::size_t>(k)]);
        };
        uint64_t hash = term(0);
        for (int64_t n = 2; n <= n_max; ++n) {
            hash ^= term(n - 1);
            for (int64_t j = 0; j < n_heads; ++j) {
                const std::size_t c = static_cast<std::size_t>((n - 2) * n_heads + j);
                rows[t * static_cast<std::size_t>(cols) + c] =
                    static_cast<int64_t>(hash % static_cast<uint64_t>(h.primes[c])) + h.offsets[c];
            }
        }
    }
    return rows;
}

}  // namespace mneme
