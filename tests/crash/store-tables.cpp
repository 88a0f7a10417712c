#include "store-tables.h"

#include <vector>

#include "core/error.h"

namespace mneme::crash {

std::unique_ptr<store_engram_table> open_crash_tables(const std::string& store, uint64_t cache_bytes,
                                                      std::string& error) {
    const test::engram_test_model m = crash_tables();
    try {
        return open_store_engram_table(store, k_store_model, m.config(), m.rows, cache_bytes, 0);
    } catch (const mneme::error& e) {
        error = e.what();
        return nullptr;
    }
}

bool serves_exact_rows(const store_engram_table& t) {
    const test::engram_test_model m = crash_tables();
    const std::size_t w = static_cast<std::size_t>(m.width), sw = w / 32;
    for (std::size_t i = 0; i < m.layers.size(); ++i) {
        const std::size_t n = static_cast<std::size_t>(m.rows[i]);
        std::vector<int64_t> rows(n);
        for (std::size_t r = 0; r < n; ++r) rows[r] = static_cast<int64_t>(r);
        std::vector<uint8_t> codes(n * w), scales(n * sw);
        try {
            t.gather(m.layers[i], rows, codes, scales);
        } catch (const mneme::error&) {
            return false;
        }
        for (std::size_t r = 0; r < n; ++r) {
            for (std::size_t j = 0; j < w; ++j) {
                if (codes[r * w + j] != test::engram_test_byte(m.seed, m.layers[i], rows[r], static_cast<int64_t>(j)))
                    return false;
            }
            for (std::size_t j = 0; j < sw; ++j) {
                if (scales[r * sw + j] !=
                    test::engram_test_byte(m.seed, m.layers[i], rows[r], static_cast<int64_t>(w + j))) {
                    return false;
                }
            }
        }
    }
    return true;
}

}  // namespace mneme::crash
