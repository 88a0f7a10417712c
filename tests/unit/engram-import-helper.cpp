// Imports deterministic test tables into a store, slowly (one durable commit per few blocks), so
// the crash test can kill it at any point: engram-import-helper STORE MODEL_ID SEED.
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "engram-test-tables.h"

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s STORE MODEL_ID SEED\n", argv[0]);
        return 2;
    }
    try {
        mneme::test::engram_test_model m;
        m.seed = std::strtoull(argv[3], nullptr, 10);
        m.width = 256;
        m.rows = {3000, 4500};
        mneme::import_options opts;
        opts.chunk_blocks = 4;
        return mneme::import_engram_tables(argv[1], argv[2], m.sources(), nullptr, opts) ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}
