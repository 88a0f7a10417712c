// No surprise network or files: the SDK must not open a socket while it opens a model, feeds,
// generates, imports an Engram store, serves from it, saves a state or a snapshot; and the files
// and folders it creates for the user's data are user-only (0600 / 0700) whatever the umask.
//
// socket() and connect() are defined here and exported from the executable, so every call the
// library (or a plugin it loads) makes through the C library lands here first: it is counted and
// refused. A scan of /proc/self/fd afterwards catches sockets made any other way.
#include <dlfcn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <string>

#include "sdk-fixture.h"

namespace {

std::atomic<int> g_socket_calls{0}, g_connect_calls{0};

}  // namespace

extern "C" __attribute__((visibility("default"))) int socket(int, int, int) {
    ++g_socket_calls;
    errno = EACCES;
    return -1;
}

extern "C" __attribute__((visibility("default"))) int connect(int, const struct sockaddr*, socklen_t) {
    ++g_connect_calls;
    errno = EACCES;
    return -1;
}

namespace {

namespace fs = std::filesystem;
using namespace mneme::crash;

int g_failures = 0;

void expect(bool ok, const std::string& what) {
    std::printf("%s: %s\n", ok ? "ok" : "FAILED", what.c_str());
    if (!ok) ++g_failures;
}

int open_sockets() {
    int n = 0;
    for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
        std::error_code ec;
        if (fs::read_symlink(e.path(), ec).string().rfind("socket:", 0) == 0) ++n;
    }
    return n;
}

int mode_of(const fs::path& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 0777) : -1;
}

void expect_no_network(const char* phase) {
    expect(g_socket_calls == 0 && g_connect_calls == 0 && open_sockets() == 0,
           std::string(phase) + ": no socket opened (" + std::to_string(g_socket_calls.load()) + " socket, " +
               std::to_string(g_connect_calls.load()) + " connect calls)");
}

}  // namespace

int main() {
    // The interposition must be what the dynamic linker hands out, or the count proves nothing.
    expect(::dlsym(RTLD_DEFAULT, "socket") == reinterpret_cast<void*>(&socket) &&
               ::dlsym(RTLD_DEFAULT, "connect") == reinterpret_cast<void*>(&connect),
           "socket() and connect() calls from the library reach the counting versions");
    ::umask(022);  // a common umask: files would be world-readable unless the SDK says otherwise
    const fs::path root = fs::temp_directory_path() / ("mneme-isolation-" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::create_directories(root);
    const std::string golden = golden_dir("v4e-tiny");
    const auto tokens = read_tokens(golden);
    {
        c_model m(golden);
        expect(m.ok(), "the golden V4 + Engram model opens: " + m.error());
        expect_no_network("model open");
        c_session s(m, static_cast<uint32_t>(tokens.size()) + 16, (root / "snaps").string());
        expect(s.feed(tokens.data(), tokens.size() / 2, true) &&
                   s.feed(tokens.data() + tokens.size() / 2, tokens.size() / 2),
               "feed (with a snapshot saved)");
        expect_no_network("feed and snapshot save");
        mneme_generate_desc gd = MNEME_GENERATE_DESC_INIT;
        gd.max_tokens = 8;
        gd.stop_at_eos = MNEME_FALSE;
        mneme_generate_result gr{};
        gr.struct_size = sizeof(gr);
        expect(mneme_session_generate(s.get(), &gd, &gr) == MNEME_OK, "generate: " + last_error());
        expect_no_network("generate");
        expect(mneme_session_save_state(s.get(), (root / "state.bin").c_str()) == MNEME_OK,
               "save state: " + last_error());
        expect_no_network("state save");
        expect(mneme_engram_import(m.runtime(), golden.c_str(), (root / "store").c_str(), nullptr, nullptr) == MNEME_OK,
               "Engram import: " + last_error());
        expect_no_network("Engram import");
    }
    {
        c_model m(golden, (root / "store").string());
        expect(m.ok(), "the model served from the store opens: " + m.error());
        c_session s(m, static_cast<uint32_t>(tokens.size()));
        expect(s.feed(tokens.data(), tokens.size()), "feed through the store");
        expect_no_network("serving from the store");
    }
    expect(mode_of(root / "snaps") == 0700, "the snapshot folder is 0700");
    expect(mode_of(root / "store") == 0700 && mode_of(root / "store" / "tables") == 0700, "the store folders are 0700");
    expect(mode_of(root / "state.bin") == 0600, "the state file is 0600");
    int files = 0;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
        if (!e.is_regular_file()) continue;
        ++files;
        char mode[16];
        std::snprintf(mode, sizeof(mode), "%o", static_cast<unsigned>(mode_of(e.path())));
        expect(mode_of(e.path()) == 0600, e.path().lexically_relative(root).string() + " is 0600 (" + mode + ")");
    }
    expect(files >= 5, "the state, a snapshot, the store index and two row files were written");
    fs::remove_all(root);
    std::printf("%s\n", g_failures ? "FAILED" : "all isolation checks passed");
    return g_failures ? 1 : 0;
}
