// A folder of saved prefills ("snapshots"): session states named by the model's identity, the
// prefix length and a hash of the prefix tokens, with a disk budget enforced by evicting the least
// recently used. Files are written atomically by the session (temporary file, then rename), so a
// reader never sees half a snapshot; corrupt or stale ones fail their checksum and are removed.
// A snapshot may have a sidecar, the n-gram drafting table over the same tokens (same name +
// ".ngram"): it is budgeted, evicted and removed together with its snapshot.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace mneme {

class snapshot_store {
  public:
    snapshot_store(std::string dir, uint64_t budget_bytes, uint64_t model_identity);

    struct hit {
        std::string path;
        std::size_t tokens = 0;
    };
    // The longest snapshot whose prefix equals tokens[0, n) with min_tokens < n <= tokens.size().
    std::optional<hit> find_longest(std::span<const int32_t> tokens, std::size_t min_tokens) const;
    // Where a snapshot of `tokens` goes.
    std::string path_for(std::span<const int32_t> tokens) const;
    // Marks a snapshot as just used (for LRU eviction).
    void touch(const std::string& path) const;
    // Deletes least recently used snapshots until the folder fits the budget.
    void evict() const;
    // Deletes a snapshot and its sidecar.
    void remove(const std::string& path) const;

    static uint64_t prefix_hash(std::span<const int32_t> tokens);
    static std::string sidecar_path(const std::string& snapshot_path) { return snapshot_path + ".ngram"; }

  private:
    std::string dir_;
    uint64_t budget_;
    uint64_t identity_;
};

}  // namespace mneme
