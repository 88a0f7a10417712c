#include "session/snapshot-store.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "decode/ngram-draft.h"
#include "session/atomic-file.h"

namespace mneme {
namespace fs = std::filesystem;

namespace {

constexpr const char* k_suffix = ".snap";
constexpr const char* k_sidecar_suffix = ".ngram";
constexpr auto k_stale_temp = std::chrono::minutes(10);

struct entry {
    fs::path path;
    std::size_t tokens;
    uint64_t hash;
};

std::string hex16(uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof(buf), "%016" PRIx64, v);
    return buf;
}

}  // namespace

snapshot_store::snapshot_store(std::string dir, uint64_t budget_bytes, uint64_t model_identity)
    : dir_(std::move(dir)), budget_(budget_bytes ? budget_bytes : (uint64_t{4} << 30)), identity_(model_identity) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) fail(MNEME_ERROR_IO, dir_, ": cannot create the snapshot folder: ", ec.message());
    // Snapshots hold the user's code: keep the folder private to the user.
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::replace, ec);
}

// The drafter's own hash, so that a sidecar's header names its tokens as the snapshot's name does.
uint64_t snapshot_store::prefix_hash(std::span<const int32_t> tokens) {
    return token_prefix_hash(tokens);
}

std::string snapshot_store::path_for(std::span<const int32_t> tokens) const {
    return (fs::path(dir_) /
            (hex16(identity_) + "-" + std::to_string(tokens.size()) + "-" + hex16(prefix_hash(tokens)) + k_suffix))
        .string();
}

std::optional<snapshot_store::hit> snapshot_store::find_longest(std::span<const int32_t> tokens,
                                                                std::size_t min_tokens) const {
    const std::string prefix = hex16(identity_) + "-";
    std::vector<entry> candidates;
    std::error_code ec;
    for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.rfind(prefix, 0) != 0 || name.size() < prefix.size() + 20 || it->path().extension() != k_suffix)
            continue;
        unsigned long long n = 0, h = 0;
        if (std::sscanf(name.c_str() + prefix.size(), "%llu-%16llx", &n, &h) != 2) continue;
        if (n <= min_tokens || n > tokens.size()) continue;
        candidates.push_back({it->path(), static_cast<std::size_t>(n), h});
    }
    std::sort(candidates.begin(), candidates.end(), [](const entry& a, const entry& b) { return a.tokens > b.tokens; });
    for (const auto& c : candidates) {
        if (prefix_hash(tokens.first(c.tokens)) == c.hash) return hit{c.path.string(), c.tokens};
    }
    return std::nullopt;
}

void snapshot_store::touch(const std::string& path) const {
    std::error_code ec;
    fs::last_write_time(path, fs::file_time_type::clock::now(), ec);
}

void snapshot_store::remove(const std::string& path) const {
    std::error_code ec;
    fs::remove(path, ec);
    fs::remove(sidecar_path(path), ec);
}

void snapshot_store::evict() const {
    struct file {
        fs::path path;
        uint64_t bytes;  // with its sidecar
        fs::file_time_type used;
    };
    std::vector<file> files;
    std::vector<std::pair<std::string, uint64_t>> sidecars;
    uint64_t total = 0;
    std::error_code ec;
    const auto now = fs::file_time_type::clock::now();
    for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code e2;
        // A save killed mid-write leaves its temporary file behind; nothing else would ever remove
        // it. One untouched for k_stale_temp is not being written any more (a writer touches it
        // with every write), so it goes.
        if (is_atomic_temp_name(it->path().filename().string())) {
            const auto written = it->last_write_time(e2);
            if (!e2 && now - written > k_stale_temp) fs::remove(it->path(), e2);
            continue;
        }
        if (it->path().extension() == k_sidecar_suffix && it->path().stem().extension() == k_suffix) {
            const uint64_t bytes = it->file_size(e2);
            sidecars.emplace_back(it->path().string(), e2 ? 0 : bytes);
            continue;
        }
        if (it->path().extension() != k_suffix) continue;
        const uint64_t bytes = it->file_size(e2);
        if (e2) continue;  // gone since the listing (another session evicted it)
        const auto used = it->last_write_time(e2);
        files.push_back({it->path(), bytes, used});
        total += bytes;
    }
    // A sidecar counts with its snapshot. One without a snapshot (removed by another session after
    // the sidecar was written) is never read again, so it goes.
    std::sort(files.begin(), files.end(), [](const file& a, const file& b) { return a.path < b.path; });
    for (const auto& [path, bytes] : sidecars) {
        const fs::path snap = fs::path(path).replace_extension();
        const auto it = std::lower_bound(files.begin(), files.end(), snap,
                                         [](const file& f, const fs::path& p) { return f.path < p; });
        if (it == files.end() || it->path != snap) {
            fs::remove(path, ec);
            continue;
        }
        it->bytes += bytes;
        total += bytes;
    }
    std::sort(files.begin(), files.end(), [](const file& a, const file& b) { return a.used < b.used; });
    for (const auto& f : files) {
        if (total <= budget_) break;
        remove(f.path.string());
        total -= f.bytes;
    }
}

}  // namespace mneme
