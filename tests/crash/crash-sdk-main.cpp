// mneme-crash-sdk: crash tests of the state the SDK writes.
//   mneme-crash-sdk KIND                 kill writers of KIND at random moments and check the files
//   mneme-crash-sdk write KIND DIR SEED  the writer itself (started by the above)
// KIND: store-import, hot-rows, session-state, snapshots.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "kinds.h"

namespace {

struct kind {
    const char* name;
    int (*write)(const std::string&, uint64_t);
    int (*check)();
};

constexpr kind k_kinds[] = {
    {"store-import", mneme::crash::write_store_import, mneme::crash::check_store_import},
    {"hot-rows", mneme::crash::write_hot_rows, mneme::crash::check_hot_rows},
    {"session-state", mneme::crash::write_session_state, mneme::crash::check_session_state},
    {"snapshots", mneme::crash::write_snapshots, mneme::crash::check_snapshots},
};

}  // namespace

int main(int argc, char** argv) {
    try {
        const bool write = argc == 5 && std::string(argv[1]) == "write";
        const std::string name = write ? argv[2] : argc == 2 ? argv[1] : "";
        for (const kind& k : k_kinds) {
            if (name != k.name) continue;
            return write ? k.write(argv[3], std::strtoull(argv[4], nullptr, 10)) : k.check();
        }
        std::fprintf(stderr, "usage: %s KIND | write KIND DIR SEED\n", argv[0]);
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}
