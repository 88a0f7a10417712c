// The SQLite index of an Engram store (STORE/index.sqlite, WAL): which table files hold which
// model's tables, their geometry, the checksum of every block, how far an import got, and the hot
// rows to warm the cache with. Only metadata lives here; the rows are in the row files.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

struct sqlite3;

namespace mneme {

struct store_table_record {
    std::string model_id;  // hex of the model identity (engram/store-identity.h)
    int64_t layer = 0;     // decoder layer id
    int64_t rows = 0, row_width = 0, row_bytes = 0;
    std::string codes_dtype = "f8_e4m3";
    std::string scale_format = "e8m0/32";
    std::string file;      // relative to the store directory
    int64_t offset = 0;    // of block 0 in the file
    int64_t block_bytes = 0, rows_per_block = 0;
    int64_t blocks_total = 0, blocks_done = 0;  // an import is complete when done == total
    bool complete = false;
};

struct hot_row {
    int64_t layer = 0, row = 0;
    int64_t hits = 0;
};

class store_index {
public:
    static constexpr int k_schema_version = 1;

    // Opens STORE/index.sqlite. With `create`, makes the directory and the schema when missing.
    // Throws MNEME_ERROR_FILE_NOT_FOUND (no store) or MNEME_ERROR_INVALID_MODEL (another schema version,
    // not a store database), naming the file.
    store_index(const std::string& dir, bool create);
    ~store_index();
    store_index(const store_index&) = delete;
    store_index& operator=(const store_index&) = delete;

    const std::string& path() const noexcept { return path_; }

    std::optional<store_table_record> find(const std::string& model_id, int64_t layer);
    std::vector<std::string> model_ids();

    // Starts (or restarts) the import of a table: the record with blocks_done = 0 and no checksums.
    void begin_table(const store_table_record& r);
    // Records blocks [first, first + sums.size()) as written and durable, in one transaction; the
    // last chunk marks the table complete in the same transaction.
    void commit_blocks(const std::string& model_id, int64_t layer, int64_t first, std::span<const uint64_t> sums);
    // The checksums of blocks [0, n) in order; throws naming the table when some are missing.
    std::vector<uint64_t> checksums(const std::string& model_id, int64_t layer, int64_t n);

    // The rows the last run's cache held with at least one hit, replacing the previous run's.
    void save_hot_rows(const std::string& model_id, std::span<const hot_row> rows);
    std::vector<hot_row> hot_rows(const std::string& model_id, int64_t limit);
    // Profile counts (rows a text reads, from `mneme-cli engram profile`): added to the counts already
    // there; then only the `keep` largest are kept. Runs never replace them.
    void add_profile_rows(const std::string& model_id, std::span<const hot_row> counts, int64_t keep);
    std::vector<hot_row> profile_rows(const std::string& model_id, int64_t limit);

private:
    void exec(const char* sql);

    std::string path_;
    sqlite3* db_ = nullptr;
    std::mutex mutex_;
};

}  // namespace mneme
