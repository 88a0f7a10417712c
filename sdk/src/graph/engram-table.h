// Where the rows of the Engram embedding tables live. The model asks for rows by global row id and
// receives them in their stored form — e4m3 codes plus one e8m0 scale per 32 values, 264 bytes for a
// 256-wide row — so a table on disk or in host memory hands over exactly what it stores, and the
// dequantisation runs as a backend op next to the rest of the layer. The hashing that chooses the
// rows (engram-hash.h) knows nothing about the storage.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "model/checkpoint.h"
#include "model/config.h"

namespace mneme {

class engram_table {
public:
    virtual ~engram_table() = default;

    // Rows of the table of decoder layer `layer` (an entry of engram_layer_ids).
    virtual int64_t rows(int64_t layer) const = 0;
    // Values per row (engram_head_dim); scales per row are row_width() / 32.
    virtual int64_t row_width() const noexcept = 0;

    // Copies rows `row_ids` of `layer`'s table, in order: codes [n, row_width()] and scales
    // [n, row_width() / 32], both row-major. Throws MNEME_ERROR_INVALID_ARGUMENT for a row id outside
    // the table. Safe to call from several threads.
    virtual void gather(int64_t layer, std::span<const int64_t> row_ids, std::span<uint8_t> codes,
                        std::span<uint8_t> scales) const = 0;

    // Announces the rows a coming gather of `layer` will ask for, so a table behind slower storage
    // can start reading them now. Tables in memory ignore it.
    virtual void prefetch(int64_t /*layer*/, std::span<const int64_t> /*row_ids*/) const {}
};

// The tables as the checkpoint stores them (`layers.{L}.engram.embed.weight` F8_E4M3 [R_L, d_e] and
// `.scale` F8_E8M0 [R_L, d_e/32]), read straight from the memory-mapped safetensors files. Checks
// that R_L equals `expected_rows[i]` for the i-th Engram layer (the sum of its primes) and names
// the tensor when it does not.
std::unique_ptr<engram_table> make_mapped_engram_table(const checkpoint& ckpt, const model_config& cfg,
                                                       std::span<const int64_t> expected_rows);

}  // namespace mneme
