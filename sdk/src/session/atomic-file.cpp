#include "session/atomic-file.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace mneme {
namespace {

constexpr std::string_view k_temp_marker = ".tmp-";

// Closes the descriptor and removes the temporary file unless the write completed.
struct temp_file {
    std::string name;
    int fd = -1;
    bool keep = false;
    ~temp_file() {
        if (fd >= 0) ::close(fd);
        if (!keep && !name.empty()) ::unlink(name.c_str());
    }
};

[[noreturn]] void io_failure(const std::string& path, const char* what, int err) {
    fail(MNEME_ERROR_IO, path, ": ", what, ": ", std::strerror(err));
}

}  // namespace

void write_file_atomically(const std::string& path, std::span<const unsigned char> bytes) {
    temp_file tmp;
    // mkstemp creates the file 0600 whatever the umask: the state holds the user's text.
    std::string pattern = path + std::string(k_temp_marker) + "XXXXXX";
    tmp.fd = ::mkostemp(pattern.data(), O_CLOEXEC);
    if (tmp.fd < 0) io_failure(path, "cannot create a temporary file", errno);
    tmp.name = pattern;
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t w = ::write(tmp.fd, bytes.data() + done, bytes.size() - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) io_failure(path, "write failed", w < 0 ? errno : ENOSPC);
        done += static_cast<std::size_t>(w);
    }
    // The data must be on disk before the rename makes it the file: otherwise a power cut after
    // the rename can leave a complete-looking name over an empty or partial file.
    if (::fsync(tmp.fd) != 0) io_failure(path, "fsync failed", errno);
    const int fd = tmp.fd;
    tmp.fd = -1;
    if (::close(fd) != 0) io_failure(path, "close failed", errno);
    if (::rename(tmp.name.c_str(), path.c_str()) != 0) io_failure(path, "rename failed", errno);
    tmp.keep = true;
    // And the rename itself is durable once the directory is flushed.
    std::string dir = std::filesystem::path(path).parent_path().string();
    if (dir.empty()) dir = ".";
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)::fsync(dfd);
        ::close(dfd);
    }
}

bool is_atomic_temp_name(std::string_view file_name) {
    const std::size_t at = file_name.rfind(k_temp_marker);
    return at != std::string_view::npos && file_name.size() == at + k_temp_marker.size() + 6;
}

}  // namespace mneme
