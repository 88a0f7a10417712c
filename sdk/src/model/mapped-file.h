// A whole file mapped read-only into memory. Checkpoints are tens to hundreds of GiB, so the file is
// never read whole at open time: the OS pages it in on first touch and may drop it again under
// memory pressure (clean, file-backed pages). A backend working on host memory may still copy the
// weights out of the mapping when they fit (see resident_weights in graph/weights.h). POSIX only,
// like the rest of the runtime.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace mneme {

class mapped_file {
public:
    // Maps `path` read-only (MAP_PRIVATE). Throws mneme::error: MNEME_ERROR_FILE_NOT_FOUND when the
    // file does not exist, MNEME_ERROR_IO for any other operating-system failure (including a path
    // that is not a regular file). An empty file is mapped as size 0 with data() == nullptr.
    static mapped_file open(const std::string& path);

    mapped_file() = default;
    mapped_file(mapped_file&& other) noexcept;
    mapped_file& operator=(mapped_file&& other) noexcept;
    mapped_file(const mapped_file&) = delete;
    mapped_file& operator=(const mapped_file&) = delete;
    ~mapped_file();

    const uint8_t* data() const noexcept { return data_; }
    uint64_t size() const noexcept { return size_; }
    const std::string& path() const noexcept { return path_; }

    // Hints that [offset, offset + length) will be read soon, front to back (a loader streaming
    // weights to a device). Only a hint: failures are ignored.
    void advise_sequential(uint64_t offset, uint64_t length) const noexcept;

    // Releases this process's pages of [p, p + bytes), a range inside some mapping (whole pages
    // only): after the bytes were copied elsewhere, they leave the resident set. The file's pages
    // stay in the page cache, and a later read maps them again. Only a hint: failures are ignored.
    static void drop_pages(const void* p, uint64_t bytes) noexcept;

private:
    void release() noexcept;

    std::string path_;
    const uint8_t* data_ = nullptr;
    uint64_t size_ = 0;
};

}  // namespace mneme
