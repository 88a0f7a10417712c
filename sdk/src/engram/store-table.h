// An engram_table served from an Engram store: rows come from the row files through a DRAM cache
// with a byte budget, reads for a step are prefetched on the store's I/O threads, every block read is
// checked against the index's checksum, and the hottest rows are remembered for the next open.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "graph/engram-table.h"
#include "model/config.h"

namespace mneme {

struct engram_store_stats {
    uint64_t table_bytes = 0;  // row payload of every table (codes + scales)
    uint64_t cache_budget_bytes = 0, cache_bytes_used = 0;
    uint64_t hits = 0, misses = 0;     // row lookups served by the cache / read from a row file
    uint64_t bytes_read = 0;           // from the row files, whole blocks
    uint64_t steps = 0;                // gathers of the first Engram layer (one per forward pass)
    uint64_t prefetched_steps = 0;     // of which had their reads issued ahead
    double prefetch_lead_seconds = 0;  // summed over layers and steps: issue to need
    double stall_seconds = 0;          // summed: time gathers spent waiting for reads
};

struct profile_result {
    uint64_t lookups = 0;        // row reads the text makes
    uint64_t distinct_rows = 0;  // of which different rows
};

class store_engram_table : public engram_table {
public:
    virtual engram_store_stats stats() const = 0;
    // Adds the row counts of a text (per Engram layer: decoder layer id, rows it reads) to the
    // store's persisted profile and warms the cache from it. Rows depend on token ids only, so a
    // sample of the text a user will run (their code) predicts the hot rows without a forward pass.
    virtual profile_result add_profile(std::span<const std::pair<int64_t, std::vector<int64_t>>> layer_rows) = 0;
};

// Opens the tables of the model `model_id` in the store directory `dir`. `expected_rows[i]` is the
// row count of the i-th Engram layer. Throws with a message naming the store and the problem: no
// store, another schema, no tables of this model (listing the models it has), an incomplete import,
// a geometry mismatch, a truncated row file. `io_threads` read ahead for prefetch (0: no prefetch,
// gathers read on demand).
std::unique_ptr<store_engram_table> open_store_engram_table(const std::string& dir, const std::string& model_id,
                                                            const model_config& cfg,
                                                            std::span<const int64_t> expected_rows,
                                                            uint64_t cache_bytes, unsigned io_threads);

}  // namespace mneme
