#include "engram/row-cache.h"

#include <algorithm>
#include <cstring>

namespace mneme {

row_cache::row_cache(uint64_t budget_bytes, int64_t row_bytes) : row_bytes_(row_bytes) {
    const uint64_t rows = row_bytes > 0 ? budget_bytes / static_cast<uint64_t>(row_bytes) : 0;
    // Enough rows per shard that a shard's CLOCK still has choices; at least one shard when any row fits.
    const uint64_t n = std::clamp<uint64_t>(rows / 64, rows ? 1 : 0, 16);
    shards_ = std::vector<shard>(static_cast<std::size_t>(n));
    for (uint64_t i = 0; i < n; ++i) {
        shard& s = shards_[static_cast<std::size_t>(i)];
        s.capacity = static_cast<uint32_t>(rows / n + (i < rows % n ? 1 : 0));
        s.keys.resize(s.capacity);
        s.hits.resize(s.capacity);
        s.referenced.resize(s.capacity);
        // new[] without value-initialisation: the pages stay untouched until rows land in them.
        s.rows.reset(new uint8_t[static_cast<std::size_t>(s.capacity) * static_cast<std::size_t>(row_bytes)]);
        capacity_ += s.capacity;
    }
}

row_cache::shard& row_cache::shard_of(uint64_t key) const {
    const uint64_t h = (key ^ (key >> 29)) * 0xBF58476D1CE4E5B9ull;
    return shards_[static_cast<std::size_t>((h >> 40) % shards_.size())];
}

uint64_t row_cache::bytes_used() const {
    uint64_t n = 0;
    for (const shard& s : shards_) {
        std::lock_guard lock(s.m);
        n += s.used;
    }
    return n * static_cast<uint64_t>(row_bytes_);
}

bool row_cache::get(uint64_t key, uint8_t* out) {
    if (shards_.empty()) return false;
    shard& s = shard_of(key);
    std::lock_guard lock(s.m);
    const auto it = s.slot_of.find(key);
    if (it == s.slot_of.end()) return false;
    const uint32_t i = it->second;
    s.referenced[i] = 1;
    ++s.hits[i];
    std::memcpy(out, s.rows.get() + static_cast<std::size_t>(i) * static_cast<std::size_t>(row_bytes_),
                static_cast<std::size_t>(row_bytes_));
    return true;
}

bool row_cache::contains(uint64_t key) const {
    if (shards_.empty()) return false;
    shard& s = shard_of(key);
    std::lock_guard lock(s.m);
    return s.slot_of.count(key) != 0;
}

void row_cache::put(uint64_t key, const uint8_t* row, uint32_t hits) {
    if (shards_.empty()) return;
    shard& s = shard_of(key);
    std::lock_guard lock(s.m);
    if (s.capacity == 0 || s.slot_of.count(key)) return;
    uint32_t i;
    if (s.used < s.capacity) {
        i = s.used++;
    } else {
        // CLOCK: clear reference bits until an unreferenced slot comes round.
        while (s.referenced[s.hand]) {
            s.referenced[s.hand] = 0;
            s.hand = (s.hand + 1) % s.capacity;
        }
        i = s.hand;
        s.hand = (s.hand + 1) % s.capacity;
        s.slot_of.erase(s.keys[i]);
    }
    s.keys[i] = key;
    s.hits[i] = hits;
    s.referenced[i] = 0;
    s.slot_of.emplace(key, i);
    std::memcpy(s.rows.get() + static_cast<std::size_t>(i) * static_cast<std::size_t>(row_bytes_), row,
                static_cast<std::size_t>(row_bytes_));
}

std::vector<row_cache::entry> row_cache::entries() const {
    std::vector<entry> out;
    for (const shard& s : shards_) {
        std::lock_guard lock(s.m);
        for (uint32_t i = 0; i < s.used; ++i) out.push_back({s.keys[i], s.hits[i]});
    }
    return out;
}

}  // namespace mneme
