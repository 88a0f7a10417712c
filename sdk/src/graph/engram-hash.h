// Engram n-gram hashing (ENGRAM_FORMAT.md §3; the official demo's rule): per-layer multipliers from
// numpy's generator, table sizes as unused primes, and the table rows each token reads. Pure integer
// host code: the rows depend only on token ids, never on where the table is stored.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace mneme {

// Odd multipliers m_0..m_{N-1} of the Engram at decoder layer `layer_id`:
// default_rng(seed + 10007 * layer_id).integers(0, half, N) * 2 + 1, half = max(1, (2^63-1) // V' // 2).
std::vector<int64_t> engram_multipliers(int64_t seed, int64_t layer_id, int64_t n_max, int64_t compressed_vocab);

// The primes of every Engram layer, in `layer_ids` order; each holds (N-1)*K primes in (n, j) order.
// Each (layer, n, j) takes the smallest prime strictly above `start` that no earlier one took, with
// start = vocab_sizes[n-2] - 1 for j = 0 and the previous prime after that.
std::vector<std::vector<int64_t>> engram_table_primes(std::span<const int64_t> layer_ids, int64_t n_max,
                                                      int64_t n_heads, std::span<const int64_t> vocab_sizes);

// Exclusive prefix sum: the first row of each (n, j) sub-table in the layer's concatenated table.
std::vector<int64_t> engram_offsets(std::span<const int64_t> primes);

// Everything the hash of one Engram layer needs.
struct engram_layer_hash {
    int64_t layer_id = 0;
    std::vector<int64_t> multipliers;  // N
    std::vector<int64_t> primes;       // (N-1)*K
    std::vector<int64_t> offsets;      // (N-1)*K
};

// Global table rows [tokens, (N-1)*K] (row-major) of one layer. `history` holds the canonical ids of
// the N-1 tokens before the first new one, oldest first (the canonical pad id where they would lie
// before the sequence start); `canon` the canonical ids of the new tokens.
std::vector<int64_t> engram_row_ids(const engram_layer_hash& h, int64_t n_max, int64_t n_heads,
                                    std::span<const int64_t> history, std::span<const int64_t> canon);

}  // namespace mneme
