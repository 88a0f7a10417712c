// libFuzzer target: opening an Engram store whose files come from the input (stores live on disk
// and may be corrupted, truncated or planted). The input is split into the SQLite index and the
// two row files of a two-layer test model:
//   [u32 index bytes][index.sqlite][u32 row file 0 bytes][tables/fz-layer0.rows][tables/fz-layer1.rows]
// A store that opens is read whole (every block checked) and closed (which saves hot rows). Any
// outcome but a served store or mneme::error is a finding.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "engram/store-index.h"
#include "engram/store-table.h"

namespace {

namespace fs = std::filesystem;

const std::string& store_dir() {
    // tmpfs when there is one: every run rewrites the files and SQLite syncs its commits.
    static const std::string dir = (fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path()) /
                                   ("mneme-fuzz-store-" + std::to_string(::getpid()));
    return dir;
}

void put(const fs::path& p, const uint8_t* data, std::size_t n) {
    if (std::FILE* f = std::fopen(p.c_str(), "wb")) {
        if (n) std::fwrite(data, 1, n, f);
        std::fclose(f);
    }
}

// Takes a u32-length-prefixed part of the input.
std::pair<const uint8_t*, std::size_t> take(const uint8_t*& data, std::size_t& size) {
    uint32_t n = 0;
    if (size >= 4) std::memcpy(&n, data, 4);
    const std::size_t skip = size >= 4 ? 4 : size;
    data += skip;
    size -= skip;
    const std::size_t len = std::min<std::size_t>(n, size);
    const uint8_t* p = data;
    data += len;
    size -= len;
    return {p, len};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const fs::path dir = store_dir();
    std::error_code ec;
    fs::remove_all(dir, ec);
    fs::create_directories(dir / "tables", ec);
    const auto [index, index_n] = take(data, size);
    const auto [rows0, rows0_n] = take(data, size);
    put(dir / "index.sqlite", index, index_n);
    put(dir / "tables" / "fz-layer0.rows", rows0, rows0_n);
    put(dir / "tables" / "fz-layer1.rows", data, size);

    mneme::model_config cfg;
    cfg.engram.layer_ids = {0, 1};
    cfg.engram.head_dim = 32;
    const std::vector<int64_t> rows = {40, 70};
    try {
        auto t = mneme::open_store_engram_table(dir.string(), "fz", cfg, rows, 1 << 16, 0);
        for (std::size_t i = 0; i < rows.size(); ++i) {
            std::vector<int64_t> all(static_cast<std::size_t>(rows[i]));
            for (std::size_t r = 0; r < all.size(); ++r) all[r] = static_cast<int64_t>(r);
            std::vector<uint8_t> codes(all.size() * 32), scales(all.size());
            t->gather(cfg.engram.layer_ids[i], all, codes, scales);
        }
    } catch (const mneme::error&) {
    }
    // The index on its own, as the importer reads it.
    try {
        mneme::store_index idx(dir.string(), false);
        for (const auto& id : idx.model_ids()) {
            for (int64_t layer : {0, 1}) {
                if (const auto r = idx.find(id, layer))
                    (void)idx.checksums(id, layer, std::min<int64_t>(r->blocks_total, 1 << 20));
            }
            (void)idx.hot_rows(id, 1000);
        }
    } catch (const mneme::error&) {
    }
    fs::remove_all(dir, ec);  // nothing left behind when the fuzzer stops
    return 0;
}
