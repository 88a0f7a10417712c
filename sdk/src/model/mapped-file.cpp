#include "model/mapped-file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/error.h"

namespace mneme {
namespace {

// Closes the descriptor on every path out of open(); the mapping outlives it.
struct fd_guard {
    int fd;
    ~fd_guard() {
        if (fd >= 0) ::close(fd);
    }
};

[[noreturn]] void fail_errno(const std::string& path, const char* what, int err) {
    const mneme_status status = (err == ENOENT || err == ENOTDIR) ? MNEME_ERROR_FILE_NOT_FOUND : MNEME_ERROR_IO;
    fail(status, path, ": ", what, ": ", std::strerror(err));
}

}  // namespace

mapped_file mapped_file::open(const std::string& path) {
    mapped_file file;
    file.path_ = path;

    int fd;
    do {
        fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) fail_errno(path, "cannot open", errno);
    fd_guard guard{fd};

    struct stat st {};
    if (::fstat(fd, &st) != 0) fail_errno(path, "cannot stat", errno);
    if (!S_ISREG(st.st_mode)) fail(MNEME_ERROR_IO, path, ": not a regular file");
    if (st.st_size < 0) fail(MNEME_ERROR_IO, path, ": negative file size");
    file.size_ = static_cast<uint64_t>(st.st_size);
    if (file.size_ == 0) return file;  // mmap of length 0 is an error; nothing to map anyway
    if (file.size_ > static_cast<uint64_t>(SIZE_MAX)) fail(MNEME_ERROR_IO, path, ": file too large to map");

    void* p = ::mmap(nullptr, static_cast<size_t>(file.size_), PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) fail_errno(path, "cannot map", errno);
    file.data_ = static_cast<const uint8_t*>(p);
    return file;
}

mapped_file::mapped_file(mapped_file&& other) noexcept
    : path_(std::move(other.path_)), data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

mapped_file& mapped_file::operator=(mapped_file&& other) noexcept {
    if (this != &other) {
        release();
        path_ = std::move(other.path_);
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

mapped_file::~mapped_file() {
    release();
}

void mapped_file::release() noexcept {
    if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), static_cast<size_t>(size_));
    data_ = nullptr;
    size_ = 0;
}

void mapped_file::advise_sequential(uint64_t offset, uint64_t length) const noexcept {
    if (data_ == nullptr || offset >= size_) return;
    if (length > size_ - offset) length = size_ - offset;
    // madvise wants a page-aligned start.
    const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    const uint64_t start = offset - offset % page;
    auto* base = const_cast<uint8_t*>(data_) + start;
    const auto len = static_cast<size_t>(length + (offset - start));
    ::madvise(base, len, MADV_SEQUENTIAL);
    ::madvise(base, len, MADV_WILLNEED);
}

void mapped_file::drop_pages(const void* p, uint64_t bytes) noexcept {
    const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    const auto begin = reinterpret_cast<uintptr_t>(p), end = begin + bytes;
    const uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;
    if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

}  // namespace mneme
