// The generated Engram tables the store crash tests import (large enough that an import takes many
// commits) and a check that a store serves exactly their bytes.
#pragma once

#include <memory>
#include <string>

#include "engram-test-tables.h"
#include "engram/store-table.h"

namespace mneme::crash {

inline constexpr const char* k_store_model = "crash-model";

inline test::engram_test_model crash_tables() {
    test::engram_test_model m;
    m.seed = 42;
    m.width = 256;
    m.rows = {3000, 4500};
    return m;
}

// Opens the generated tables from the store; null with `error` set when the store refuses.
std::unique_ptr<store_engram_table> open_crash_tables(const std::string& store, uint64_t cache_bytes,
                                                      std::string& error);

// Gathers every row of every table and compares each byte with the generator.
bool serves_exact_rows(const store_engram_table& t);

}  // namespace mneme::crash
