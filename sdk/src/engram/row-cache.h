// The DRAM cache of an Engram store: whole rows under a byte budget, split into shards with their
// own lock so that concurrent gathers rarely contend. Eviction is CLOCK (a second chance for rows
// touched since the hand last passed), which keeps the Zipfian hot set without a list per access.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace mneme {

class row_cache {
public:
    // Room for budget_bytes / row_bytes rows (row payload bytes; the bookkeeping is ~20 bytes a row).
    row_cache(uint64_t budget_bytes, int64_t row_bytes);

    uint64_t capacity_rows() const noexcept { return capacity_; }
    uint64_t budget_bytes() const noexcept { return capacity_ * static_cast<uint64_t>(row_bytes_); }
    uint64_t bytes_used() const;

    // Copies the row into `out` when cached (marking it recently used) and returns true.
    bool get(uint64_t key, uint8_t* out);
    bool contains(uint64_t key) const;
    // Inserts a row (no-op when present or when the cache has no room at all).
    void put(uint64_t key, const uint8_t* row, uint32_t hits = 0);

    struct entry {
        uint64_t key;
        uint32_t hits;
    };
    // Every cached row with its hit count (for the persisted hot-row statistics).
    std::vector<entry> entries() const;

private:
    struct shard {
        mutable std::mutex m;
        std::unordered_map<uint64_t, uint32_t> slot_of;
        std::vector<uint64_t> keys;
        std::vector<uint32_t> hits;
        std::vector<uint8_t> referenced;
        std::unique_ptr<uint8_t[]> rows;  // capacity * row_bytes, touched only as slots fill
        uint32_t capacity = 0, used = 0, hand = 0;
    };
    shard& shard_of(uint64_t key) const;

    int64_t row_bytes_;
    uint64_t capacity_ = 0;
    mutable std::vector<shard> shards_;
};

}  // namespace mneme
