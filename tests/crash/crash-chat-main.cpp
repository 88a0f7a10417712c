// mneme-crash-chat: crash test of the desktop app's conversation database.
//   mneme-crash-chat                 kill writers at random moments and check the database
//   mneme-crash-chat write DIR SEED  the writer itself (started by the above)
#include <cstdio>
#include <cstdlib>
#include <string>

namespace mneme::crash {
int write_conversations(const std::string& dir, uint64_t seed);
int check_conversations();
}  // namespace mneme::crash

int main(int argc, char** argv) {
    if (argc == 4 && std::string(argv[1]) == "write") {
        return mneme::crash::write_conversations(argv[2], std::strtoull(argv[3], nullptr, 10));
    }
    if (argc == 1) return mneme::crash::check_conversations();
    std::fprintf(stderr, "usage: %s | write DIR SEED\n", argv[0]);
    return 2;
}
