// numpy's default random generator reproduced bit for bit: SeedSequence seeding, the PCG64 bit
// generator and Generator.integers for int64 (Lemire's bounded method). Engram derives its hash
// multipliers from `numpy.random.default_rng(seed).integers(0, high, n, dtype=int64)`
// (ENGRAM_FORMAT.md §3.3), so the runtime must produce exactly those numbers.
#pragma once

#include <cstdint>
#include <vector>

namespace mneme {

// numpy.random.default_rng(seed).integers(0, high, n, dtype=numpy.int64), high >= 1.
std::vector<int64_t> numpy_default_rng_integers(uint64_t seed, int64_t high, std::size_t n);

}  // namespace mneme
