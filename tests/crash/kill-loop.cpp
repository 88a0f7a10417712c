#include "kill-loop.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace mneme::crash {
namespace {

using clock_type = std::chrono::steady_clock;

uint64_t env_u64(const char* name, uint64_t fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

// Reads what is available on `fd` into `buf`; false at end of file.
bool drain(int fd, std::string& buf) {
    char chunk[4096];
    const ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) return true;
    if (n <= 0) return false;
    buf.append(chunk, static_cast<std::size_t>(n));
    return true;
}

}  // namespace

kill_loop::kill_loop(std::string kind, int kills)
    : kind_(std::move(kind)),
      kills_(static_cast<int>(env_u64("MNEME_CRASH_KILLS", static_cast<uint64_t>(kills)))),
      seed_(env_u64("MNEME_CRASH_SEED", std::random_device{}())),
      rng_(seed_) {
    std::printf("crash %s: seed %llu, %d kills (replay with MNEME_CRASH_SEED=%llu)\n", kind_.c_str(),
                static_cast<unsigned long long>(seed_), kills_, static_cast<unsigned long long>(seed_));
    std::fflush(stdout);
}

double kill_loop::random_delay(double span) {
    return std::uniform_real_distribution<double>(0.0, span)(rng_);
}

writer_run kill_loop::run(const std::vector<std::string>& args, double kill_after) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        expect(false, "pipe failed");
        return {};
    }
    std::vector<char*> argv;
    static const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
    argv.push_back(const_cast<char*>(self.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);

    const auto t0 = clock_type::now();
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(fds[1], STDOUT_FILENO);  // dup2 clears close-on-exec on the copy
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(fds[1]);
    writer_run out;
    if (pid < 0) {
        ::close(fds[0]);
        expect(false, "fork failed");
        return out;
    }
    // Read reports while waiting, so a chatty writer never blocks on a full pipe (which would
    // shift where the kill lands).
    const auto deadline = t0 + std::chrono::duration<double>(kill_after >= 0 ? kill_after : 60.0);
    std::string buf;
    bool open = true;
    while (open) {
        const auto left = deadline - clock_type::now();
        if (left <= clock_type::duration::zero()) break;
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
        timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
        pollfd p{fds[0], POLLIN, 0};
        const int r = ::ppoll(&p, 1, &ts, nullptr);
        if (r > 0) open = drain(fds[0], buf);
    }
    if (open) ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    out.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
    while (drain(fds[0], buf)) {
    }
    ::close(fds[0]);
    out.killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    out.exited_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!out.killed && !out.exited_ok) {
        expect(false, "writer failed (" +
                          std::string(WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                                        : "signal " + std::to_string(WTERMSIG(status))) +
                          ")");
    }
    if (kill_after < 0 && out.killed) expect(false, "writer hung (killed after a minute)");
    // Only complete lines count: a report is made after its commit returned.
    std::size_t at = 0;
    for (std::size_t nl; (nl = buf.find('\n', at)) != std::string::npos; at = nl + 1)
        out.reports.push_back(buf.substr(at, nl - at));
    return out;
}

void kill_loop::expect(bool ok, const std::string& what) {
    if (ok) return;
    ++failures_;
    std::printf("FAILED crash %s, kill %d (after %.6f s, seed %llu): %s\n", kind_.c_str(), iteration_, delay_,
                static_cast<unsigned long long>(seed_), what.c_str());
    std::fflush(stdout);
}

int kill_loop::finish(const std::string& summary) const {
    std::printf("crash %s: %s; %d failed checks\n", kind_.c_str(), summary.c_str(), failures_);
    std::fflush(stdout);
    return failures_ == 0 ? 0 : 1;
}

void report(const std::string& line) {
    const std::string l = line + "\n";
    std::size_t done = 0;
    while (done < l.size()) {
        const ssize_t w = ::write(STDOUT_FILENO, l.data() + done, l.size() - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) std::_Exit(3);
        done += static_cast<std::size_t>(w);
    }
}

scratch_dir::scratch_dir(const std::string& name) {
    namespace fs = std::filesystem;
    static int n = 0;
    path = (fs::temp_directory_path() /
            ("mneme-crash-" + name + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++)))
               .string();
    fs::remove_all(path);
    fs::create_directories(path);
}

scratch_dir::~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
}

uint64_t mix(uint64_t a, uint64_t b, uint64_t c) {
    uint64_t h =
        a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull) * 0xC2B2AE3D27D4EB4Full ^ c * 0x165667B19E3779F9ull;
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 29;
    return h;
}

}  // namespace mneme::crash
