// Import of Engram tables into a store. Resumable and safe against a kill at any point: blocks are
// written and made durable before one SQLite transaction records them (with their checksums), and
// a table is marked complete in the transaction of its last blocks, so a store always holds either
// complete, verified tables or tables it reports as incomplete — which the next import resumes.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

namespace mneme {

struct engram_table_source {
    int64_t layer = 0;  // decoder layer id
    int64_t rows = 0;
    int64_t row_width = 0;  // e4m3 codes per row; the row has row_width / 32 e8m0 scales after them
    // Writes rows [first, first + n) packed (codes then scales, row after row) into `out`.
    std::function<void(int64_t first, int64_t n, uint8_t* out)> read_rows;
};

// Called after each durable chunk with bytes done and total; returning false stops the import
// (what is committed stays and is resumed next time).
using import_progress = std::function<bool(uint64_t done, uint64_t total)>;

struct import_options {
    int64_t chunk_blocks = 256;  // blocks per commit (1 MiB with page-sized blocks)
};

// Imports `tables` of model `model_id` into the store `store_dir` (created when missing). Tables
// already complete are kept; incomplete ones resume where their last commit ended. Returns false
// when progress stopped it.
bool import_engram_tables(const std::string& store_dir, const std::string& model_id,
                          std::span<const engram_table_source> tables, const import_progress& progress,
                          const import_options& opts = {});

// Imports the Engram tables of the checkpoint in `model_dir`.
bool import_engram_checkpoint(const std::string& model_dir, const std::string& store_dir,
                              const import_progress& progress);

}  // namespace mneme
