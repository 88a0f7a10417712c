// The payload file of one Engram table in a store: rows packed into page-aligned blocks so that a
// row is read with one aligned direct read of its block, never straddling two. A row is its e4m3
// codes followed by its e8m0 scales (row_width + row_width/32 bytes, as the checkpoint stores them).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace mneme {

constexpr int64_t k_row_file_page = 4096;

struct row_layout {
    int64_t rows = 0;
    int64_t row_width = 0;      // codes per row
    int64_t row_bytes = 0;      // codes + scales
    int64_t block_bytes = 0;    // a multiple of the page size
    int64_t rows_per_block = 0;

    // Rows up to a page share pages (none straddles a page end); a larger row gets whole pages.
    static row_layout of(int64_t rows, int64_t row_width);
    int64_t blocks() const noexcept { return (rows + rows_per_block - 1) / rows_per_block; }
    int64_t file_bytes() const noexcept { return blocks() * block_bytes; }
    int64_t block_of(int64_t row) const noexcept { return row / rows_per_block; }
    int64_t offset_in_block(int64_t row) const noexcept { return (row % rows_per_block) * row_bytes; }
};

// Page-aligned heap buffer for direct I/O.
struct aligned_buffer {
    explicit aligned_buffer(std::size_t bytes);
    ~aligned_buffer();
    aligned_buffer(const aligned_buffer&) = delete;
    aligned_buffer& operator=(const aligned_buffer&) = delete;
    uint8_t* data() noexcept { return p_; }
    std::size_t size() const noexcept { return n_; }

private:
    uint8_t* p_;
    std::size_t n_;
};

// Reads whole blocks past the OS page cache (O_DIRECT; where the file system refuses it, a plain
// read followed by POSIX_FADV_DONTNEED), so the row cache's budget is the memory actually used.
class row_file_reader {
public:
    row_file_reader(std::string path, row_layout layout, int64_t base_offset);
    ~row_file_reader();
    row_file_reader(const row_file_reader&) = delete;
    row_file_reader& operator=(const row_file_reader&) = delete;

    const std::string& path() const noexcept { return path_; }
    const row_layout& layout() const noexcept { return layout_; }

    // Reads block `block` into `buf` (block_bytes, page-aligned) and checks it against `checksum`;
    // throws MNEME_ERROR_IO naming the file and the block on a short read or a mismatch. Thread-safe.
    void read_block(int64_t block, uint64_t checksum, uint8_t* buf) const;

private:
    std::string path_;
    row_layout layout_;
    int64_t base_;
    int fd_ = -1;
    bool direct_ = false;
};

// Appends blocks to a payload file during import. Writes go through the page cache (then dropped
// from it); sync() makes them durable before the index records them.
class row_file_writer {
public:
    // Opens (creating) `path` and cuts it to `keep_bytes`, the part a previous import committed.
    row_file_writer(std::string path, int64_t keep_bytes);
    ~row_file_writer();
    row_file_writer(const row_file_writer&) = delete;
    row_file_writer& operator=(const row_file_writer&) = delete;

    void write(int64_t offset, std::span<const uint8_t> bytes);
    void sync();

private:
    std::string path_;
    int fd_ = -1;
};

}  // namespace mneme
