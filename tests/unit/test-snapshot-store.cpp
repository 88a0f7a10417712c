// The snapshot folder's bookkeeping of n-gram sidecars: a sidecar counts against the disk budget
// with its snapshot, goes when its snapshot is evicted or removed, never passes for a snapshot, and
// one left without a snapshot is removed.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "decode/ngram-draft.h"
#include "session/snapshot-store.h"

namespace fs = std::filesystem;
using namespace mneme;

namespace {

void write_bytes(const fs::path& p, std::size_t n, fs::file_time_type when) {
    std::ofstream(p, std::ios::binary) << std::string(n, 'x');
    fs::last_write_time(p, when);
}

}  // namespace

TEST_CASE("snapshot store: sidecars are budgeted, evicted and removed with their snapshot", "[snapshot]") {
    const fs::path dir = fs::temp_directory_path() / ("mneme-snapshot-store-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    snapshot_store store(dir.string(), 3000, 42);
    const std::vector<int32_t> a{1, 2, 3}, b{1, 2, 3, 4, 5}, c{1, 2, 3, 4, 5, 6, 7};
    const std::string pa = store.path_for(a), pb = store.path_for(b), pc = store.path_for(c);
    const auto now = fs::file_time_type::clock::now();
    using std::chrono::minutes;
    // Snapshots alone (2400 bytes) fit the budget; with their sidecars (3800) they do not.
    write_bytes(pa, 1000, now - minutes(3));
    write_bytes(snapshot_store::sidecar_path(pa), 900, now);  // a sidecar's own time does not matter
    write_bytes(pb, 1000, now - minutes(2));
    write_bytes(snapshot_store::sidecar_path(pb), 500, now);
    write_bytes(pc, 400, now - minutes(1));
    const std::string orphan = dir / "0000000000000000-9-0000000000000000.snap.ngram";
    write_bytes(orphan, 100, now);
    CHECK(snapshot_store::sidecar_path(pa) == pa + ".ngram");

    // A sidecar is never taken for a snapshot, even where its snapshot is missing.
    std::vector<int32_t> longer = c;
    longer.push_back(8);
    CHECK(store.find_longest(longer, 0)->path == pc);
    fs::remove(pc);
    write_bytes(pc + ".ngram", 10, now);
    CHECK(store.find_longest(longer, 0)->path == pb);
    fs::remove(pc + ".ngram");
    write_bytes(pc, 400, now - minutes(1));

    store.evict();
    CHECK_FALSE(fs::exists(pa));
    CHECK_FALSE(fs::exists(snapshot_store::sidecar_path(pa)));
    CHECK(fs::exists(pb));
    CHECK(fs::exists(snapshot_store::sidecar_path(pb)));
    CHECK(fs::exists(pc));
    CHECK_FALSE(fs::exists(orphan));

    store.remove(pb);
    CHECK_FALSE(fs::exists(pb));
    CHECK_FALSE(fs::exists(snapshot_store::sidecar_path(pb)));
    CHECK(fs::exists(pc));
    fs::remove_all(dir);
}

TEST_CASE("snapshot names and sidecar headers hash the tokens alike", "[snapshot]") {
    const std::vector<int32_t> t{0, 1, -1, 70000, 129279, 5};
    CHECK(snapshot_store::prefix_hash(t) == token_prefix_hash(t));
    ngram_drafter d;
    d.push(std::span<const int32_t>(t).first(2));
    d.push(std::span<const int32_t>(t).subspan(2));
    CHECK(d.context_hash() == snapshot_store::prefix_hash(t));
    // The hash snapshot names have always used (FNV-1a over little-endian bytes): changing it would
    // orphan every snapshot on disk.
    uint64_t h = 1469598103934665603ull;
    for (int32_t v : t) {
        for (int b = 0; b < 4; ++b) {
            h ^= (static_cast<uint32_t>(v) >> (8 * b)) & 0xff;
            h *= 1099511628211ull;
        }
    }
    CHECK(snapshot_store::prefix_hash(t) == h);
}
