#include "engram/row-file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "core/error.h"
#include "engram/block-checksum.h"

namespace mneme {

row_layout row_layout::of(int64_t rows, int64_t row_width) {
    row_layout l;
    l.rows = rows;
    l.row_width = row_width;
    l.row_bytes = row_width + row_width / 32;
    if (l.row_bytes <= k_row_file_page) {
        l.block_bytes = k_row_file_page;
        l.rows_per_block = k_row_file_page / l.row_bytes;
    } else {
        l.block_bytes = (l.row_bytes + k_row_file_page - 1) / k_row_file_page * k_row_file_page;
        l.rows_per_block = 1;
    }
    return l;
}

aligned_buffer::aligned_buffer(std::size_t bytes)
    : p_(static_cast<uint8_t*>(::operator new[](bytes ? bytes : 1, std::align_val_t(k_row_file_page)))), n_(bytes) {}

aligned_buffer::~aligned_buffer() { ::operator delete[](p_, std::align_val_t(k_row_file_page)); }

row_file_reader::row_file_reader(std::string path, row_layout layout, int64_t base_offset)
    : path_(std::move(path)), layout_(layout), base_(base_offset) {
    // O_NONBLOCK: a FIFO planted in a store must not hang the open (it is refused below).
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_DIRECT);
    direct_ = fd_ >= 0;
    if (fd_ < 0 && errno == EINVAL) fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);  // e.g. tmpfs
    if (fd_ < 0) fail(MNEME_ERROR_FILE_NOT_FOUND, path_, ": cannot open Engram row file: ", std::strerror(errno));
    struct stat st{};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd_);
        fail(MNEME_ERROR_IO, path_, ": Engram row file is not a regular file");
    }
    if (st.st_size < base_ + layout_.file_bytes()) {
        const long long have = static_cast<long long>(st.st_size);
        ::close(fd_);
        fail(MNEME_ERROR_IO, path_, ": Engram row file is truncated: ", have, " bytes, the index needs ",
             base_ + layout_.file_bytes());
    }
}

row_file_reader::~row_file_reader() {
    if (fd_ >= 0) ::close(fd_);
}

void row_file_reader::read_block(int64_t block, uint64_t checksum, uint8_t* buf) const {
    const std::size_t n = static_cast<std::size_t>(layout_.block_bytes);
    const off_t at = static_cast<off_t>(base_ + block * layout_.block_bytes);
    std::size_t done = 0;
    while (done < n) {
        const ssize_t r = ::pread(fd_, buf + done, n - done, at + static_cast<off_t>(done));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            fail(MNEME_ERROR_IO, path_, ": block ", block, " (bytes ", at, "..", at + static_cast<off_t>(n),
                 "): read failed", r < 0 ? ": " : " (end of file)", r < 0 ? std::strerror(errno) : "");
        }
        done += static_cast<std::size_t>(r);
    }
    if (!direct_) (void)::posix_fadvise(fd_, at, static_cast<off_t>(n), POSIX_FADV_DONTNEED);
    if (block_checksum(buf, n) != checksum) {
        fail(MNEME_ERROR_IO, path_, ": block ", block, " (bytes ", at, "..", at + static_cast<off_t>(n),
             ") fails its checksum: the store is corrupt; re-import the table");
    }
}

row_file_writer::row_file_writer(std::string path, int64_t keep_bytes) : path_(std::move(path)) {
    // User data: owner-only, like the rest of the store.
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) fail(MNEME_ERROR_IO, path_, ": cannot create Engram row file: ", std::strerror(errno));
    if (::ftruncate(fd_, static_cast<off_t>(keep_bytes)) != 0) {
        const int e = errno;
        ::close(fd_);
        fail(MNEME_ERROR_IO, path_, ": cannot truncate: ", std::strerror(e));
    }
}

row_file_writer::~row_file_writer() {
    if (fd_ >= 0) ::close(fd_);
}

void row_file_writer::write(int64_t offset, std::span<const uint8_t> bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t w = ::pwrite(fd_, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset) + static_cast<off_t>(done));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) fail(MNEME_ERROR_IO, path_, ": write failed: ", std::strerror(errno));
        done += static_cast<std::size_t>(w);
    }
}

void row_file_writer::sync() {
    if (::fdatasync(fd_) != 0) fail(MNEME_ERROR_IO, path_, ": fdatasync failed: ", std::strerror(errno));
    (void)::posix_fadvise(fd_, 0, 0, POSIX_FADV_DONTNEED);  // imported rows are not a reason to evict others
}

}  // namespace mneme
