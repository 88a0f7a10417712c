// Checksum of one block of a row file. Blocks are whole pages, so eight bytes at a time with a
// multiply-rotate mix is enough to catch flipped or lost bytes without slowing down reads that
// verify every block they touch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace mneme {

inline uint64_t block_checksum(const uint8_t* data, std::size_t n) noexcept {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        std::memcpy(&w, data + i, 8);
        h = (h ^ (w * 0xC2B2AE3D27D4EB4Full)) * 0x9E3779B97F4A7C15ull;
        h = (h << 31) | (h >> 33);
    }
    for (; i < n; ++i) h = (h ^ data[i]) * 0x100000001B3ull;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 32);
}

}  // namespace mneme
