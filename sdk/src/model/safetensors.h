// One .safetensors file: an 8-byte little-endian header length N, N bytes of JSON describing the
// tensors, then the raw data. Everything in the header is validated before any offset is trusted,
// because the file may be truncated, corrupt or hostile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/mapped-file.h"
#include "model/st-dtype.h"

namespace mneme {

// Limits on what a header may claim. Real DeepSeek shards have headers of about 100 KiB.
inline constexpr uint64_t k_safetensors_max_header_bytes = 100ull << 20;
inline constexpr std::size_t k_safetensors_max_rank = 8;

struct st_tensor_entry {
    std::string name;
    st_dtype dtype = st_dtype::u8;
    std::vector<int64_t> shape;
    uint64_t numel = 1;
    uint64_t begin = 0;  // byte offsets relative to the start of the data section
    uint64_t end = 0;
};

struct st_header {
    uint64_t data_offset = 0;              // 8 + header length: where the data section starts in the file
    uint64_t data_size = 0;                // bytes from data_offset to the end of the file
    std::vector<st_tensor_entry> tensors;  // sorted by name
    std::vector<std::pair<std::string, std::string>> metadata;  // "__metadata__", sorted by key
};

// Parses and validates the header of a safetensors file whose complete contents are
// [file_bytes, file_bytes + file_size). Pure (no I/O), so it can be fuzzed directly. `filename`
// only appears in error messages. Throws mneme::error(MNEME_ERROR_INVALID_MODEL) with a message
// that names the file and the tensor or field at fault.
st_header parse_safetensors_header(const uint8_t* file_bytes, std::size_t file_size, const std::string& filename);

// A memory-mapped, validated safetensors file. Tensor data pointers stay valid for the lifetime
// of the object. They point straight into the mapping and carry only the alignment the file gives
// them (the official writer aligns each tensor to its element size; nothing guarantees it).
class safetensors_file {
public:
    // Throws mneme::error: MNEME_ERROR_FILE_NOT_FOUND, MNEME_ERROR_IO, MNEME_ERROR_INVALID_MODEL.
    static std::unique_ptr<safetensors_file> open(const std::string& path);

    const std::string& path() const noexcept { return map_.path(); }
    uint64_t file_size() const noexcept { return map_.size(); }
    const st_header& header() const noexcept { return header_; }
    const std::vector<st_tensor_entry>& tensors() const noexcept { return header_.tensors; }

    // nullptr when the file has no tensor of that name.
    const st_tensor_entry* find(std::string_view name) const noexcept;

    // First byte of the tensor's data inside the mapping (nullptr for an empty file).
    const uint8_t* data(const st_tensor_entry& tensor) const noexcept;

    const mapped_file& mapping() const noexcept { return map_; }

private:
    safetensors_file(mapped_file map, st_header header) : map_(std::move(map)), header_(std::move(header)) {}

    mapped_file map_;
    st_header header_;
};

}  // namespace mneme
