#include "engram/store-table.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "engram/prefetcher.h"
#include "engram/row-cache.h"
#include "engram/row-file.h"
#include "engram/store-index.h"

namespace mneme {
namespace {

using clock_type = std::chrono::steady_clock;

// A row file the index may name: a plain file in the store's tables/ folder. The index is
// untrusted on read; an absolute path, "..", or a device or FIFO elsewhere must never be opened.
bool plain_table_file(const std::string& file) {
    constexpr std::string_view k_dir = "tables/";
    if (file.size() <= k_dir.size() || file.compare(0, k_dir.size(), k_dir) != 0) return false;
    const std::string_view name = std::string_view(file).substr(k_dir.size());
    if (name == "." || name == "..") return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
               c == '-';
    });
}

uint64_t row_key(std::size_t slot, int64_t row) {
    return (static_cast<uint64_t>(slot) << 40) | static_cast<uint64_t>(row);
}

// What reads share with queued prefetch tasks (which may outlive a gather, never the table).
struct store_core {
    struct table {
        int64_t layer = 0;
        std::unique_ptr<row_file_reader> file;
        std::vector<uint64_t> sums;
    };
    std::vector<table> tables;
    int64_t row_width = 0, row_bytes = 0;
    std::unique_ptr<row_cache> cache;
    std::atomic<uint64_t> hits{0}, misses{0}, bytes_read{0};

    void read_block(std::size_t slot, int64_t b, uint8_t* buf) {
        const table& t = tables[slot];
        t.file->read_block(b, t.sums[static_cast<std::size_t>(b)], buf);
        bytes_read += static_cast<uint64_t>(t.file->layout().block_bytes);
    }

    // The distinct blocks holding rows the cache lacks.
    std::vector<int64_t> missing_blocks(std::size_t slot, std::span<const int64_t> rows) const {
        const row_layout& L = tables[slot].file->layout();
        std::vector<int64_t> blocks;
        for (int64_t r : rows) {
            if (!cache->contains(row_key(slot, r))) blocks.push_back(L.block_of(r));
        }
        std::sort(blocks.begin(), blocks.end());
        blocks.erase(std::unique(blocks.begin(), blocks.end()), blocks.end());
        return blocks;
    }

    // Copies each row into out (row_bytes apart) from the cache, from the step's prefetched blocks,
    // or from blocks read here (each once), caching what was read.
    void gather(std::size_t slot, std::span<const int64_t> rows, uint8_t* out, step_reads* step) {
        const row_layout& L = tables[slot].file->layout();
        const std::size_t rb = static_cast<std::size_t>(row_bytes);
        std::unordered_map<int64_t, std::unique_ptr<aligned_buffer>> read_here;
        uint64_t missed = 0;
        for (std::size_t i = 0; i < rows.size(); ++i) {
            const int64_t r = rows[i];
            if (cache->get(row_key(slot, r), out + i * rb)) continue;
            ++missed;
            const int64_t b = L.block_of(r);
            const uint8_t* block = nullptr;
            if (step) {
                if (const auto it = step->blocks.find(b); it != step->blocks.end()) {
                    bool waited = false;
                    block = it->second->get(b, step->read, waited);
                }
            }
            if (!block) {
                auto& buf = read_here[b];
                if (!buf) {
                    buf = std::make_unique<aligned_buffer>(static_cast<std::size_t>(L.block_bytes));
                    read_block(slot, b, buf->data());
                }
                block = buf->data();
            }
            const uint8_t* src = block + L.offset_in_block(r);
            cache->put(row_key(slot, r), src);
            std::memcpy(out + i * rb, src, rb);
        }
        hits += rows.size() - missed;
        misses += missed;
    }
};

class store_table final : public store_engram_table {
public:
    store_table(const std::string& dir, const std::string& model_id, const model_config& cfg,
                std::span<const int64_t> expected_rows, uint64_t cache_bytes, unsigned io_threads)
        : index_(dir, false), model_id_(model_id), core_(std::make_shared<store_core>()) {
        namespace fs = std::filesystem;
        const auto& ids = cfg.engram.layer_ids;
        core_->row_width = cfg.engram.head_dim;
        core_->row_bytes = core_->row_width + core_->row_width / 32;
        for (std::size_t i = 0; i < ids.size(); ++i) {
            const auto rec = index_.find(model_id, ids[i]);
            if (!rec) {
                std::string have;
                for (const auto& m : index_.model_ids()) have += (have.empty() ? "" : ", ") + m;
                fail(MNEME_ERROR_INVALID_MODEL, dir, ": the Engram store has no table of layer ", ids[i],
                     " for this model (identity ", model_id, "); it holds tables of ", have.empty() ? "no model" : have,
                     ". Run mneme-cli engram import --model DIR --store ", dir);
            }
            if (!rec->complete) {
                fail(MNEME_ERROR_INVALID_MODEL, dir, ": the Engram table of layer ", ids[i], " is incomplete (",
                     rec->blocks_done, " of ", rec->blocks_total,
                     " blocks imported); rerun mneme-cli engram import to resume");
            }
            if (!plain_table_file(rec->file) || rec->offset < 0) {
                fail(MNEME_ERROR_INVALID_MODEL, dir, ": the Engram table of layer ", ids[i], " names the row file '",
                     rec->file.substr(0, 200), "' at offset ", rec->offset, ", not one in the store's tables/ folder");
            }
            const row_layout L = row_layout::of(expected_rows[i], core_->row_width);
            if (rec->rows != L.rows || rec->row_width != L.row_width || rec->row_bytes != L.row_bytes ||
                rec->block_bytes != L.block_bytes || rec->rows_per_block != L.rows_per_block ||
                rec->blocks_total != L.blocks() || rec->codes_dtype != "f8_e4m3" || rec->scale_format != "e8m0/32") {
                fail(MNEME_ERROR_INVALID_MODEL, dir, ": the Engram table of layer ", ids[i], " has ", rec->rows,
                     " rows of ", rec->row_width, " ", rec->codes_dtype, " values (", rec->scale_format,
                     "); the model needs ", L.rows, " rows of ", L.row_width, " f8_e4m3 values (e8m0/32)");
            }
            store_core::table t;
            t.layer = ids[i];
            t.file = std::make_unique<row_file_reader>((fs::path(dir) / rec->file).string(), L, rec->offset);
            t.sums = index_.checksums(model_id, ids[i], L.blocks());
            table_bytes_ += static_cast<uint64_t>(L.rows * L.row_bytes);
            core_->tables.push_back(std::move(t));
        }
        core_->cache = std::make_unique<row_cache>(cache_bytes, core_->row_bytes);
        const std::size_t block_bytes =
            core_->tables.empty() ? 0 : static_cast<std::size_t>(core_->tables.front().file->layout().block_bytes);
        prefetch_ = std::make_unique<prefetcher>(io_threads, core_->tables.size(), block_bytes);
        warm();
    }

    ~store_table() override {
        prefetch_.reset();
        // Remember what this run found hot; a failure here must not turn a clean close into a crash.
        try {
            auto entries = core_->cache->entries();
            if (entries.empty()) return;
            std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.hits > b.hits; });
            std::vector<hot_row> hot;
            for (const auto& e : entries) {
                if (e.hits == 0) break;
                hot.push_back({core_->tables[static_cast<std::size_t>(e.key >> 40)].layer,
                               static_cast<int64_t>(e.key & ((uint64_t{1} << 40) - 1)), e.hits});
            }
            if (!hot.empty()) index_.save_hot_rows(model_id_, hot);
        } catch (...) {
        }
    }

    int64_t rows(int64_t layer) const override { return core_->tables[slot(layer)].file->layout().rows; }
    int64_t row_width() const noexcept override { return core_->row_width; }

    void prefetch(int64_t layer, std::span<const int64_t> row_ids) const override {
        const std::size_t s = slot(layer);
        check_rows(s, row_ids);
        if (!prefetch_->enabled()) return;
        prefetch_->issue(s, core_->missing_blocks(s, row_ids),
                         [core = core_, s](int64_t b, uint8_t* buf) { core->read_block(s, b, buf); });
    }

    void gather(int64_t layer, std::span<const int64_t> row_ids, std::span<uint8_t> codes,
                std::span<uint8_t> scales) const override {
        const std::size_t s = slot(layer);
        const std::size_t cw = static_cast<std::size_t>(core_->row_width), sw = cw / 32, rb = cw + sw;
        if (codes.size() != row_ids.size() * cw || scales.size() != row_ids.size() * sw) {
            fail(MNEME_ERROR_INTERNAL, "engram table: output spans do not fit ", row_ids.size(), " rows");
        }
        check_rows(s, row_ids);
        const auto t0 = clock_type::now();
        const std::shared_ptr<step_reads> step = prefetch_->take(s);
        const double lead = step ? std::chrono::duration<double>(t0 - step->issued).count() : 0.0;
        std::vector<uint8_t> packed(row_ids.size() * rb);
        core_->gather(s, row_ids, packed.data(), step.get());
        for (std::size_t i = 0; i < row_ids.size(); ++i) {
            std::memcpy(codes.data() + i * cw, packed.data() + i * rb, cw);
            std::memcpy(scales.data() + i * sw, packed.data() + i * rb + cw, sw);
        }
        std::lock_guard lock(stats_mutex_);
        if (s == 0) {
            ++steps_;
            if (step) ++prefetched_steps_;
        }
        lead_ += lead;
        stall_ += std::chrono::duration<double>(clock_type::now() - t0).count();
    }

    profile_result add_profile(std::span<const std::pair<int64_t, std::vector<int64_t>>> layer_rows) override {
        std::map<std::pair<int64_t, int64_t>, int64_t> counts;
        profile_result r;
        for (const auto& [layer, rows] : layer_rows) {
            check_rows(slot(layer), rows);
            for (int64_t row : rows) ++counts[{layer, row}];
            r.lookups += rows.size();
        }
        std::vector<hot_row> top;
        for (const auto& [key, n] : counts) top.push_back({key.first, key.second, n});
        r.distinct_rows = top.size();
        // The cache can never hold more than its capacity; keeping a few times that lets later
        // profiles and larger budgets still find the next-hottest rows.
        const std::size_t keep = static_cast<std::size_t>(std::max<uint64_t>(4 * core_->cache->capacity_rows(), 65536));
        std::sort(top.begin(), top.end(), [](const hot_row& a, const hot_row& b) { return a.hits > b.hits; });
        if (top.size() > keep) top.resize(keep);
        index_.add_profile_rows(model_id_, top, static_cast<int64_t>(keep));
        warm();
        return r;
    }

    engram_store_stats stats() const override {
        engram_store_stats st;
        st.table_bytes = table_bytes_;
        st.cache_budget_bytes = core_->cache->budget_bytes();
        st.cache_bytes_used = core_->cache->bytes_used();
        st.hits = core_->hits;
        st.misses = core_->misses;
        st.bytes_read = core_->bytes_read;
        std::lock_guard lock(stats_mutex_);
        st.steps = steps_;
        st.prefetched_steps = prefetched_steps_;
        st.prefetch_lead_seconds = lead_;
        st.stall_seconds = stall_;
        return st;
    }

private:
    std::size_t slot(int64_t layer) const {
        for (std::size_t i = 0; i < core_->tables.size(); ++i) {
            if (core_->tables[i].layer == layer) return i;
        }
        fail(MNEME_ERROR_INVALID_ARGUMENT, "layer ", layer, " has no Engram table");
    }

    void check_rows(std::size_t s, std::span<const int64_t> row_ids) const {
        const int64_t n = core_->tables[s].file->layout().rows;
        for (int64_t r : row_ids) {
            if (r < 0 || r >= n) {
                fail(MNEME_ERROR_INVALID_ARGUMENT, "engram table of layer ", core_->tables[s].layer, ": row ", r,
                     " outside [0, ", n, ")");
            }
        }
    }

    // Fills the cache with the rows most likely to be read: those the last run found hot and those
    // a profiled text reads most. Each source is ranked by its share of its own total, so a large
    // profile does not drown a run's few hits (and the reverse).
    void warm() {
        const uint64_t cap = core_->cache->capacity_rows();
        if (cap == 0) return;
        std::map<std::pair<int64_t, int64_t>, double> score;  // (layer, row) -> share
        for (const auto& source : {index_.hot_rows(model_id_, static_cast<int64_t>(cap)),
                                   index_.profile_rows(model_id_, static_cast<int64_t>(cap))}) {
            double total = 0;
            for (const hot_row& h : source) total += static_cast<double>(std::max<int64_t>(h.hits, 1));
            for (const hot_row& h : source) {
                auto& s = score[{h.layer, h.row}];
                s = std::max(s, static_cast<double>(std::max<int64_t>(h.hits, 1)) / total);
            }
        }
        std::vector<std::pair<double, std::pair<int64_t, int64_t>>> ranked;
        for (const auto& [key, s] : score) ranked.emplace_back(s, key);
        std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
        if (ranked.size() > cap) ranked.resize(static_cast<std::size_t>(cap));
        std::map<std::size_t, std::vector<int64_t>> by_slot;
        for (const auto& [s, key] : ranked) {
            const auto [layer, row] = key;
            for (std::size_t i = 0; i < core_->tables.size(); ++i) {
                if (core_->tables[i].layer == layer && row >= 0 && row < core_->tables[i].file->layout().rows) {
                    by_slot[i].push_back(row);
                }
            }
        }
        for (auto& [slot_index, slot_rows] : by_slot) {
            // Named copies: clang before 16 cannot capture structured bindings in lambdas.
            const std::size_t s = slot_index;
            std::vector<int64_t>& rows = slot_rows;
            std::sort(rows.begin(), rows.end());
            const row_layout& L = core_->tables[s].file->layout();
            std::vector<int64_t> blocks;
            for (int64_t r : rows) blocks.push_back(L.block_of(r));
            blocks.erase(std::unique(blocks.begin(), blocks.end()), blocks.end());
            std::size_t next = 0;  // rows are sorted, so each block's rows follow one another
            prefetch_->read_all(
                blocks, [core = core_, s](int64_t b, uint8_t* buf) { core->read_block(s, b, buf); },
                [&, s](int64_t b, const uint8_t* bytes) {
                    for (; next < rows.size() && L.block_of(rows[next]) == b; ++next) {
                        core_->cache->put(row_key(s, rows[next]), bytes + L.offset_in_block(rows[next]));
                    }
                });
        }
    }

    mutable store_index index_;
    std::string model_id_;
    std::shared_ptr<store_core> core_;
    std::unique_ptr<prefetcher> prefetch_;
    uint64_t table_bytes_ = 0;
    mutable std::mutex stats_mutex_;
    mutable uint64_t steps_ = 0, prefetched_steps_ = 0;
    mutable double lead_ = 0, stall_ = 0;
};

}  // namespace

std::unique_ptr<store_engram_table> open_store_engram_table(const std::string& dir, const std::string& model_id,
                                                            const model_config& cfg,
                                                            std::span<const int64_t> expected_rows,
                                                            uint64_t cache_bytes, unsigned io_threads) {
    if (expected_rows.size() != cfg.engram.layer_ids.size()) {
        fail(MNEME_ERROR_INTERNAL, "engram store: one row count per layer");
    }
    return std::make_unique<store_table>(dir, model_id, cfg, expected_rows, cache_bytes, io_threads);
}

}  // namespace mneme
