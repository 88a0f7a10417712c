// Deterministic random Engram tables for the store tests and the import helper they kill.
#pragma once

#include <cstdint>
#include <vector>

#include "engram/import.h"
#include "model/config.h"

namespace mneme::test {

inline uint8_t engram_test_byte(uint64_t seed, int64_t layer, int64_t row, int64_t j) {
    uint64_t h = seed * 0x9E3779B97F4A7C15ull ^ static_cast<uint64_t>(layer) * 0xC2B2AE3D27D4EB4Full ^
                 static_cast<uint64_t>(row) * 0x165667B19E3779F9ull ^ static_cast<uint64_t>(j) * 0x27D4EB2F165667C5ull;
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ull;
    return static_cast<uint8_t>(h >> 56);
}

struct engram_test_model {
    uint64_t seed = 1;
    int64_t width = 32;
    std::vector<int64_t> layers{0, 2};
    std::vector<int64_t> rows{500, 777};

    int64_t row_bytes() const { return width + width / 32; }
    std::vector<engram_table_source> sources() const {
        std::vector<engram_table_source> out;
        for (std::size_t i = 0; i < layers.size(); ++i) {
            engram_table_source s;
            s.layer = layers[i];
            s.rows = rows[i];
            s.row_width = width;
            s.read_rows = [seed = seed, layer = layers[i], rb = row_bytes()](int64_t first, int64_t n, uint8_t* dst) {
                for (int64_t r = 0; r < n; ++r) {
                    for (int64_t j = 0; j < rb; ++j) dst[r * rb + j] = engram_test_byte(seed, layer, first + r, j);
                }
            };
            out.push_back(std::move(s));
        }
        return out;
    }
    model_config config() const {
        model_config c;
        c.engram.layer_ids = layers;
        c.engram.head_dim = width;
        return c;
    }
};

}  // namespace mneme::test
