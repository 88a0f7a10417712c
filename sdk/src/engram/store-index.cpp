#include "engram/store-index.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace mneme {
namespace {

// A prepared statement that finalises itself.
class statement {
public:
    statement(sqlite3* db, const char* sql, const std::string& path) : db_(db), path_(path) {
        if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK) {
            fail(MNEME_ERROR_INVALID_MODEL, path, ": ", sqlite3_errmsg(db), " (is this an Engram store?)");
        }
    }
    ~statement() { sqlite3_finalize(s_); }
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;

    statement& bind(int i, int64_t v) {
        sqlite3_bind_int64(s_, i, v);
        return *this;
    }
    statement& bind(int i, const std::string& v) {
        sqlite3_bind_text(s_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        return *this;
    }
    statement& bind_blob(int i, const void* p, std::size_t n) {
        sqlite3_bind_blob(s_, i, p, static_cast<int>(n), SQLITE_TRANSIENT);
        return *this;
    }
    // True while a row is available.
    bool step() {
        const int rc = sqlite3_step(s_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        fail(MNEME_ERROR_IO, path_, ": ", sqlite3_errmsg(db_));
    }
    void reset() {
        sqlite3_reset(s_);
        sqlite3_clear_bindings(s_);
    }
    int64_t i64(int c) const { return sqlite3_column_int64(s_, c); }
    std::string text(int c) const {
        const auto* p = sqlite3_column_text(s_, c);
        return p ? reinterpret_cast<const char*>(p) : "";
    }
    std::span<const uint8_t> blob(int c) const {
        const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(s_, c));
        return {p, static_cast<std::size_t>(sqlite3_column_bytes(s_, c))};
    }

private:
    sqlite3* db_;
    const std::string& path_;
    sqlite3_stmt* s_ = nullptr;
};

constexpr const char* k_schema = R"(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tables(
  model_id TEXT NOT NULL, layer INTEGER NOT NULL, rows INTEGER NOT NULL, row_width INTEGER NOT NULL,
  row_bytes INTEGER NOT NULL, codes_dtype TEXT NOT NULL, scale_format TEXT NOT NULL, file TEXT NOT NULL,
  offset INTEGER NOT NULL, block_bytes INTEGER NOT NULL, rows_per_block INTEGER NOT NULL,
  blocks_total INTEGER NOT NULL, blocks_done INTEGER NOT NULL, complete INTEGER NOT NULL,
  PRIMARY KEY(model_id, layer));
CREATE TABLE IF NOT EXISTS block_sums(
  model_id TEXT NOT NULL, layer INTEGER NOT NULL, first_block INTEGER NOT NULL, sums BLOB NOT NULL,
  PRIMARY KEY(model_id, layer, first_block));
CREATE TABLE IF NOT EXISTS hot_rows(
  model_id TEXT NOT NULL, layer INTEGER NOT NULL, row INTEGER NOT NULL, hits INTEGER NOT NULL,
  PRIMARY KEY(model_id, layer, row));
)";

constexpr const char* k_profile_schema = R"(
CREATE TABLE IF NOT EXISTS profile_rows(
  model_id TEXT NOT NULL, layer INTEGER NOT NULL, row INTEGER NOT NULL, hits INTEGER NOT NULL,
  PRIMARY KEY(model_id, layer, row));
)";

}  // namespace

store_index::store_index(const std::string& dir, bool create) {
    namespace fs = std::filesystem;
    std::error_code ec;
    path_ = (fs::path(dir) / "index.sqlite").string();
    if (create) {
        // A store holds the model's memory and what the user's prompts touched (hot rows): the
        // folders it creates are owner-only, and so is the index (SQLite gives its -wal and -shm
        // files the mode of the database). An existing folder the host chose keeps its mode.
        const bool made = fs::create_directories(dir, ec);
        if (!ec && made) fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
        if (!ec && fs::create_directory(fs::path(dir) / "tables", ec) && !ec) {
            fs::permissions(fs::path(dir) / "tables", fs::perms::owner_all, fs::perm_options::replace, ec);
        }
        if (ec) fail(MNEME_ERROR_IO, dir, ": cannot create the Engram store: ", ec.message());
        const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) fail(MNEME_ERROR_IO, path_, ": cannot create: ", std::strerror(errno));
        ::close(fd);
    } else if (!fs::exists(path_, ec)) {
        fail(MNEME_ERROR_FILE_NOT_FOUND, path_, ": no Engram store here (run mneme-cli engram import)");
    }
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path_.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
        const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
        sqlite3_close(db_);
        fail(MNEME_ERROR_IO, path_, ": cannot open: ", msg);
    }
    try {
        sqlite3_busy_timeout(db_, 10000);
        exec("PRAGMA journal_mode=WAL");
        exec("PRAGMA synchronous=FULL");
        // A fresh database gets the schema and its version; an existing one must carry ours.
        bool has_meta = false, empty = true;
        {
            statement s(db_, "SELECT count(*), sum(name='meta') FROM sqlite_master WHERE type='table'", path_);
            if (s.step()) {
                empty = s.i64(0) == 0;
                has_meta = s.i64(1) > 0;
            }
        }
        if (!has_meta) {
            if (!create && empty) {
                fail(MNEME_ERROR_FILE_NOT_FOUND, path_, ": no Engram store here yet (an import stopped before its "
                     "first commit; run mneme-cli engram import)");
            }
            if (!create) fail(MNEME_ERROR_INVALID_MODEL, path_, ": not an Engram store index (no meta table)");
            exec("BEGIN IMMEDIATE");
            exec(k_schema);
            statement s(db_, "INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', ?)", path_);
            s.bind(1, std::to_string(k_schema_version)).step();
            exec("COMMIT");
        }
        statement s(db_, "SELECT value FROM meta WHERE key='schema_version'", path_);
        const std::string v = s.step() ? s.text(0) : "";
        if (v != std::to_string(k_schema_version)) {
            fail(MNEME_ERROR_INVALID_MODEL, path_, ": Engram store schema version '", v, "', this build reads version ",
                 k_schema_version, " (re-import into a new store)");
        }
        // Added within version 1: stores made before it simply have no profile yet.
        exec(k_profile_schema);
    } catch (...) {
        sqlite3_close(db_);
        throw;
    }
}

store_index::~store_index() { sqlite3_close(db_); }

void store_index::exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        const std::string msg = err ? err : "error";
        sqlite3_free(err);
        fail(MNEME_ERROR_IO, path_, ": ", msg);
    }
}

std::optional<store_table_record> store_index::find(const std::string& model_id, int64_t layer) {
    std::lock_guard lock(mutex_);
    statement s(db_,
                "SELECT rows, row_width, row_bytes, codes_dtype, scale_format, file, offset, block_bytes, rows_per_block, "
                "blocks_total, blocks_done, complete FROM tables WHERE model_id=? AND layer=?",
                path_);
    s.bind(1, model_id).bind(2, layer);
    if (!s.step()) return std::nullopt;
    store_table_record r;
    r.model_id = model_id;
    r.layer = layer;
    r.rows = s.i64(0);
    r.row_width = s.i64(1);
    r.row_bytes = s.i64(2);
    r.codes_dtype = s.text(3);
    r.scale_format = s.text(4);
    r.file = s.text(5);
    r.offset = s.i64(6);
    r.block_bytes = s.i64(7);
    r.rows_per_block = s.i64(8);
    r.blocks_total = s.i64(9);
    r.blocks_done = s.i64(10);
    r.complete = s.i64(11) != 0;
    return r;
}

std::vector<std::string> store_index::model_ids() {
    std::lock_guard lock(mutex_);
    statement s(db_, "SELECT DISTINCT model_id FROM tables ORDER BY model_id", path_);
    std::vector<std::string> out;
    while (s.step()) out.push_back(s.text(0));
    return out;
}

void store_index::begin_table(const store_table_record& r) {
    std::lock_guard lock(mutex_);
    exec("BEGIN IMMEDIATE");
    try {
        statement d(db_, "DELETE FROM block_sums WHERE model_id=? AND layer=?", path_);
        d.bind(1, r.model_id).bind(2, r.layer).step();
        statement s(db_,
                    "INSERT OR REPLACE INTO tables(model_id, layer, rows, row_width, row_bytes, codes_dtype, scale_format, "
                    "file, offset, block_bytes, rows_per_block, blocks_total, blocks_done, complete) "
                    "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,0,0)",
                    path_);
        s.bind(1, r.model_id).bind(2, r.layer).bind(3, r.rows).bind(4, r.row_width).bind(5, r.row_bytes);
        s.bind(6, r.codes_dtype).bind(7, r.scale_format).bind(8, r.file).bind(9, r.offset).bind(10, r.block_bytes);
        s.bind(11, r.rows_per_block).bind(12, r.blocks_total).step();
        exec("COMMIT");
    } catch (...) {
        exec("ROLLBACK");
        throw;
    }
}

void store_index::commit_blocks(const std::string& model_id, int64_t layer, int64_t first,
                                std::span<const uint64_t> sums) {
    std::lock_guard lock(mutex_);
    exec("BEGIN IMMEDIATE");
    try {
        statement s(db_, "INSERT OR REPLACE INTO block_sums(model_id, layer, first_block, sums) VALUES(?,?,?,?)", path_);
        s.bind(1, model_id).bind(2, layer).bind(3, first).bind_blob(4, sums.data(), sums.size_bytes()).step();
        const int64_t done = first + static_cast<int64_t>(sums.size());
        statement u(db_,
                    "UPDATE tables SET blocks_done=?, complete=(? >= blocks_total) WHERE model_id=? AND layer=? "
                    "AND blocks_done=?",
                    path_);
        u.bind(1, done).bind(2, done).bind(3, model_id).bind(4, layer).bind(5, first).step();
        if (sqlite3_changes(db_) != 1) fail(MNEME_ERROR_INTERNAL, path_, ": import of layer ", layer, " out of order");
        exec("COMMIT");
    } catch (...) {
        exec("ROLLBACK");
        throw;
    }
}

std::vector<uint64_t> store_index::checksums(const std::string& model_id, int64_t layer, int64_t n) {
    std::lock_guard lock(mutex_);
    statement s(db_, "SELECT first_block, sums FROM block_sums WHERE model_id=? AND layer=? ORDER BY first_block", path_);
    s.bind(1, model_id).bind(2, layer);
    // No reserve(n): n comes from the model's config, the blobs from the file; only what the
    // file actually holds is allocated.
    std::vector<uint64_t> out;
    while (s.step()) {
        const auto b = s.blob(1);
        if (s.i64(0) != static_cast<int64_t>(out.size()) || b.size() % 8 != 0) break;
        const std::size_t at = out.size();
        out.resize(at + b.size() / 8);
        // An empty blob comes back as a null pointer, which memcpy must not get (found by fuzzing).
        if (!b.empty()) std::memcpy(out.data() + at, b.data(), b.size());
    }
    if (static_cast<int64_t>(out.size()) != n) {
        fail(MNEME_ERROR_INVALID_MODEL, path_, ": Engram table of layer ", layer, " has checksums for ", out.size(),
             " of its ", n, " blocks (the index is damaged; re-import)");
    }
    return out;
}

void store_index::save_hot_rows(const std::string& model_id, std::span<const hot_row> rows) {
    std::lock_guard lock(mutex_);
    exec("BEGIN IMMEDIATE");
    try {
        statement d(db_, "DELETE FROM hot_rows WHERE model_id=?", path_);
        d.bind(1, model_id).step();
        statement s(db_, "INSERT OR REPLACE INTO hot_rows(model_id, layer, row, hits) VALUES(?,?,?,?)", path_);
        for (const hot_row& r : rows) {
            s.bind(1, model_id).bind(2, r.layer).bind(3, r.row).bind(4, r.hits);
            s.step();
            s.reset();
        }
        exec("COMMIT");
    } catch (...) {
        exec("ROLLBACK");
        throw;
    }
}

void store_index::add_profile_rows(const std::string& model_id, std::span<const hot_row> counts, int64_t keep) {
    std::lock_guard lock(mutex_);
    exec("BEGIN IMMEDIATE");
    try {
        statement s(db_,
                    "INSERT INTO profile_rows(model_id, layer, row, hits) VALUES(?,?,?,?) "
                    "ON CONFLICT(model_id, layer, row) DO UPDATE SET hits = hits + excluded.hits",
                    path_);
        for (const hot_row& r : counts) {
            s.bind(1, model_id).bind(2, r.layer).bind(3, r.row).bind(4, r.hits);
            s.step();
            s.reset();
        }
        statement trim(db_,
                       "DELETE FROM profile_rows WHERE model_id=?1 AND rowid NOT IN "
                       "(SELECT rowid FROM profile_rows WHERE model_id=?1 ORDER BY hits DESC LIMIT ?2)",
                       path_);
        trim.bind(1, model_id).bind(2, keep).step();
        exec("COMMIT");
    } catch (...) {
        exec("ROLLBACK");
        throw;
    }
}

std::vector<hot_row> store_index::profile_rows(const std::string& model_id, int64_t limit) {
    std::lock_guard lock(mutex_);
    statement s(db_, "SELECT layer, row, hits FROM profile_rows WHERE model_id=? ORDER BY hits DESC LIMIT ?", path_);
    s.bind(1, model_id).bind(2, limit);
    std::vector<hot_row> out;
    while (s.step()) out.push_back({s.i64(0), s.i64(1), s.i64(2)});
    return out;
}

std::vector<hot_row> store_index::hot_rows(const std::string& model_id, int64_t limit) {
    std::lock_guard lock(mutex_);
    statement s(db_, "SELECT layer, row, hits FROM hot_rows WHERE model_id=? ORDER BY hits DESC LIMIT ?", path_);
    s.bind(1, model_id).bind(2, limit);
    std::vector<hot_row> out;
    while (s.step()) out.push_back({s.i64(0), s.i64(1), s.i64(2)});
    return out;
}

}  // namespace mneme
