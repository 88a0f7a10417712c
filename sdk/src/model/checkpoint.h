// A checkpoint directory: every tensor of the model, found by name, backed by memory-mapped
// safetensors files. Either `model.safetensors.index.json` lists which shard holds each tensor
// (the index is authoritative), or every `*.safetensors` file in the directory is read and a
// tensor name may occur in only one of them. config.json is read separately (model/config.h).
//
// Immutable after open(): safe to share between threads.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/safetensors.h"
#include "model/st-dtype.h"

namespace mneme {

inline constexpr std::string_view k_checkpoint_index_name = "model.safetensors.index.json";

struct tensor_info {
    std::string name;
    std::string file;  // path of the shard that holds the tensor
    st_dtype dtype = st_dtype::u8;
    std::vector<int64_t> shape;
    const uint8_t* data = nullptr;  // inside the mapping; aligned only as the file aligns it
    uint64_t size_bytes = 0;

    int64_t numel() const noexcept;
};

// Throws mneme::error(MNEME_ERROR_INVALID_MODEL) naming the tensor's file and name, the expected
// and the actual dtype or shape, unless `tensor` has one of `dtypes` and exactly `shape`.
void check_tensor(const tensor_info& tensor, st_dtype_set dtypes, std::span<const int64_t> shape);
void check_tensor(const tensor_info& tensor, st_dtype_set dtypes, std::initializer_list<int64_t> shape);

class checkpoint {
public:
    // Opens the checkpoint in `dir`. Throws mneme::error: MNEME_ERROR_FILE_NOT_FOUND (no directory,
    // no safetensors files, or a shard named by the index is missing), MNEME_ERROR_IO,
    // MNEME_ERROR_INVALID_MODEL (any malformed file; the message names file and tensor or field).
    static std::unique_ptr<checkpoint> open(const std::string& dir);

    const std::string& directory() const noexcept { return dir_; }

    // nullptr when the checkpoint has no such tensor.
    const tensor_info* find(std::string_view name) const noexcept;
    bool contains(std::string_view name) const noexcept { return find(name) != nullptr; }

    // Throws MNEME_ERROR_INVALID_MODEL naming the tensor (and the directory) when it is missing.
    const tensor_info& get(std::string_view name) const;

    // get() followed by check_tensor(): the tensor must exist with one of `dtypes` and `shape`.
    const tensor_info& expect(std::string_view name, st_dtype_set dtypes, std::span<const int64_t> shape) const;
    const tensor_info& expect(std::string_view name, st_dtype_set dtypes, std::initializer_list<int64_t> shape) const;

    // As expect(), but a missing tensor returns nullptr instead of throwing (optional tensors).
    const tensor_info* expect_optional(std::string_view name, st_dtype_set dtypes,
                                       std::span<const int64_t> shape) const;
    const tensor_info* expect_optional(std::string_view name, st_dtype_set dtypes,
                                       std::initializer_list<int64_t> shape) const;

    // All tensors, sorted by name.
    const std::vector<tensor_info>& tensors() const noexcept { return tensors_; }
    std::vector<tensor_info>::const_iterator begin() const noexcept { return tensors_.begin(); }
    std::vector<tensor_info>::const_iterator end() const noexcept { return tensors_.end(); }
    std::size_t size() const noexcept { return tensors_.size(); }

    // Sum of size_bytes over all tensors.
    uint64_t total_bytes() const noexcept { return total_bytes_; }

    // The opened safetensors files, in the order they were opened (sorted by file name).
    const std::vector<std::unique_ptr<safetensors_file>>& files() const noexcept { return files_; }

private:
    checkpoint() = default;

    std::string dir_;
    std::vector<std::unique_ptr<safetensors_file>> files_;
    std::vector<tensor_info> tensors_;
    uint64_t total_bytes_ = 0;
};

}  // namespace mneme
