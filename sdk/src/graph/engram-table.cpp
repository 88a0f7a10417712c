#include "graph/engram-table.h"

#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"

namespace mneme {
namespace {

class mapped_engram_table final : public engram_table {
public:
    mapped_engram_table(const checkpoint& ckpt, const model_config& cfg, std::span<const int64_t> expected_rows)
        : width_(cfg.engram.head_dim) {
        const auto& ids = cfg.engram.layer_ids;
        if (expected_rows.size() != ids.size()) fail(MNEME_ERROR_INTERNAL, "engram table: one row count per layer");
        for (std::size_t i = 0; i < ids.size(); ++i) {
            const std::string p = "layers." + std::to_string(ids[i]) + ".engram.embed.";
            const tensor_info& w = ckpt.get(p + "weight");
            if (w.shape.size() != 2 || w.shape[1] != width_ || w.dtype != st_dtype::f8_e4m3) {
                check_tensor(w, st_dtype::f8_e4m3, {expected_rows[i], width_});
            }
            if (w.shape[0] != expected_rows[i]) {
                fail(MNEME_ERROR_INVALID_MODEL, w.file, ": tensor '", w.name, "' has ", w.shape[0],
                     " rows, but the primes of Engram layer ", ids[i], " need ", expected_rows[i],
                     " (engram_num_embeddings[", i, "])");
            }
            const tensor_info& s = ckpt.expect(p + "scale", st_dtype::f8_e8m0, {expected_rows[i], width_ / 32});
            layers_.push_back({ids[i], w.shape[0], w.data, s.data});
        }
    }

    int64_t rows(int64_t layer) const override { return find(layer).rows; }
    int64_t row_width() const noexcept override { return width_; }

    void gather(int64_t layer, std::span<const int64_t> row_ids, std::span<uint8_t> codes,
                std::span<uint8_t> scales) const override {
        const table& t = find(layer);
        const std::size_t cw = static_cast<std::size_t>(width_), sw = static_cast<std::size_t>(width_ / 32);
        if (codes.size() != row_ids.size() * cw || scales.size() != row_ids.size() * sw) {
            fail(MNEME_ERROR_INTERNAL, "engram table: output spans do not fit ", row_ids.size(), " rows");
        }
        for (std::size_t i = 0; i < row_ids.size(); ++i) {
            const int64_t r = row_ids[i];
            if (r < 0 || r >= t.rows) {
                fail(MNEME_ERROR_INVALID_ARGUMENT, "engram table of layer ", layer, ": row ", r, " outside [0, ",
                     t.rows, ")");
            }
            std::memcpy(codes.data() + i * cw, t.codes + static_cast<std::size_t>(r) * cw, cw);
            std::memcpy(scales.data() + i * sw, t.scales + static_cast<std::size_t>(r) * sw, sw);
        }
    }

private:
    struct table {
        int64_t layer, rows;
        const uint8_t* codes;
        const uint8_t* scales;
    };

    const table& find(int64_t layer) const {
        for (const auto& t : layers_) {
            if (t.layer == layer) return t;
        }
        fail(MNEME_ERROR_INVALID_ARGUMENT, "layer ", layer, " has no Engram table");
    }

    int64_t width_;
    std::vector<table> layers_;
};

}  // namespace

std::unique_ptr<engram_table> make_mapped_engram_table(const checkpoint& ckpt, const model_config& cfg,
                                                       std::span<const int64_t> expected_rows) {
    return std::make_unique<mapped_engram_table>(ckpt, cfg, expected_rows);
}

}  // namespace mneme
