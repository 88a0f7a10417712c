// libFuzzer target: the desktop app's conversation database (app/chat/conversation_store) opened
// from arbitrary bytes: a damaged or planted file must give an error or readable conversations,
// never a crash. Every listed conversation is loaded.
#include <unistd.h>

#include <QString>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "conversation_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    namespace fs = std::filesystem;
    static const std::string path = ((fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path()) /
                                     ("mneme-fuzz-chat-" + std::to_string(::getpid()) + ".sqlite"))
                                        .string();
    static const bool cleanup = std::atexit([] {
                                    std::error_code e;
                                    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path + suffix, e);
                                }) == 0;
    (void)cleanup;
    std::error_code ec;
    fs::remove(path + "-wal", ec);
    fs::remove(path + "-shm", ec);
    if (std::FILE* f = std::fopen(path.c_str(), "wb")) {
        if (size) std::fwrite(data, 1, size, f);
        std::fclose(f);
    }
    mneme_chat::ConversationStore store;
    if (!store.open(QString::fromStdString(path))) return 0;
    (void)store.schemaVersion();
    for (const auto& c : store.list()) {
        if (const auto full = store.load(c.id)) (void)full->messages.size();
    }
    return 0;
}
