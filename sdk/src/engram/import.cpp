#include "engram/import.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "engram/block-checksum.h"
#include "engram/row-file.h"
#include "engram/store-identity.h"
#include "engram/store-index.h"
#include "model/checkpoint.h"
#include "model/config.h"

namespace mneme {

bool import_engram_tables(const std::string& store_dir, const std::string& model_id,
                          std::span<const engram_table_source> tables, const import_progress& progress,
                          const import_options& opts) {
    namespace fs = std::filesystem;
    store_index index(store_dir, true);
    uint64_t total = 0, done = 0;
    for (const auto& t : tables) total += static_cast<uint64_t>(row_layout::of(t.rows, t.row_width).file_bytes());

    for (const auto& src : tables) {
        if (src.row_width <= 0 || src.row_width % 32 != 0) {
            fail(MNEME_ERROR_INVALID_MODEL, "Engram table of layer ", src.layer, ": row width ", src.row_width,
                 " is not a positive multiple of 32");
        }
        const row_layout L = row_layout::of(src.rows, src.row_width);
        store_table_record want;
        want.model_id = model_id;
        want.layer = src.layer;
        want.rows = L.rows;
        want.row_width = L.row_width;
        want.row_bytes = L.row_bytes;
        want.file = "tables/" + model_id + "-layer" + std::to_string(src.layer) + ".rows";
        want.block_bytes = L.block_bytes;
        want.rows_per_block = L.rows_per_block;
        want.blocks_total = L.blocks();

        // Resume an import of the same geometry; anything else starts over.
        int64_t first = 0;
        const auto have = index.find(model_id, src.layer);
        const bool same = have && have->rows == want.rows && have->row_width == want.row_width &&
                          have->block_bytes == want.block_bytes && have->file == want.file && have->offset == 0;
        if (same && have->complete) {
            done += static_cast<uint64_t>(L.file_bytes());
            continue;
        }
        if (same) {
            first = have->blocks_done;
        } else {
            index.begin_table(want);
        }
        row_file_writer out((fs::path(store_dir) / want.file).string(), first * L.block_bytes);
        done += static_cast<uint64_t>(first * L.block_bytes);

        std::vector<uint8_t> rows;
        std::vector<uint8_t> chunk;
        std::vector<uint64_t> sums;
        while (first < L.blocks()) {
            const int64_t n_blocks = std::min(opts.chunk_blocks, L.blocks() - first);
            const int64_t row0 = first * L.rows_per_block;
            const int64_t n_rows = std::min(n_blocks * L.rows_per_block, L.rows - row0);
            rows.resize(static_cast<std::size_t>(n_rows * L.row_bytes));
            src.read_rows(row0, n_rows, rows.data());
            chunk.assign(static_cast<std::size_t>(n_blocks * L.block_bytes), 0);
            for (int64_t r = 0; r < n_rows; ++r) {
                const int64_t b = r / L.rows_per_block;
                std::memcpy(chunk.data() + b * L.block_bytes + (r % L.rows_per_block) * L.row_bytes,
                            rows.data() + r * L.row_bytes, static_cast<std::size_t>(L.row_bytes));
            }
            sums.resize(static_cast<std::size_t>(n_blocks));
            for (int64_t b = 0; b < n_blocks; ++b) {
                sums[static_cast<std::size_t>(b)] =
                    block_checksum(chunk.data() + b * L.block_bytes, static_cast<std::size_t>(L.block_bytes));
            }
            out.write(first * L.block_bytes, chunk);
            out.sync();  // durable before the index says so
            index.commit_blocks(model_id, src.layer, first, sums);
            first += n_blocks;
            done += chunk.size();
            if (progress && !progress(done, total)) return false;
        }
    }
    return true;
}

bool import_engram_checkpoint(const std::string& model_dir, const std::string& store_dir,
                              const import_progress& progress) {
    const model_config cfg = load_model_config((std::filesystem::path(model_dir) / "config.json").string());
    if (!cfg.engram.enabled()) fail(MNEME_ERROR_INVALID_ARGUMENT, model_dir, ": the model has no Engram tables");
    const auto ckpt = checkpoint::open(model_dir);
    const std::string id = engram_store_identity(read_config_text(model_dir), *ckpt, cfg);
    const int64_t w = cfg.engram.head_dim, sw = w / 32;
    std::vector<engram_table_source> tables;
    for (int64_t layer : cfg.engram.layer_ids) {
        const std::string p = "layers." + std::to_string(layer) + ".engram.embed.";
        const tensor_info& codes = ckpt->get(p + "weight");
        check_tensor(codes, st_dtype::f8_e4m3, {codes.shape.empty() ? 0 : codes.shape[0], w});
        const tensor_info& scales = ckpt->expect(p + "scale", st_dtype::f8_e8m0, {codes.shape[0], sw});
        engram_table_source s;
        s.layer = layer;
        s.rows = codes.shape[0];
        s.row_width = w;
        s.read_rows = [c = codes.data, sc = scales.data, w, sw](int64_t first, int64_t n, uint8_t* out) {
            for (int64_t r = 0; r < n; ++r) {
                std::memcpy(out + r * (w + sw), c + (first + r) * w, static_cast<std::size_t>(w));
                std::memcpy(out + r * (w + sw) + w, sc + (first + r) * sw, static_cast<std::size_t>(sw));
            }
        };
        tables.push_back(std::move(s));
    }
    return import_engram_tables(store_dir, id, tables, progress);
}

}  // namespace mneme
