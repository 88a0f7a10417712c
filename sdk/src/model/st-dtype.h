// Storage dtypes of safetensors files, as named in the file header. The storage type says how the
// bytes are laid out, not always what they mean: DeepSeek-V4 stores packed FP4 as I8 [out, in/2],
// and the model code decides that from the tensor's role.
#pragma once

#include <mneme/mneme_plugin.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace mneme {

enum class st_dtype : uint8_t {
    bf16,
    f16,
    f32,
    f64,
    f8_e4m3,
    f8_e8m0,
    i8,
    u8,
    i16,
    i32,
    i64,
    boolean,
};

inline constexpr int st_dtype_count = 12;

// The header spelling: "BF16", "F8_E4M3", "BOOL", ...
std::string_view st_dtype_name(st_dtype dtype) noexcept;

// Parses the header spelling; std::nullopt for anything not in the list above.
std::optional<st_dtype> st_dtype_from_name(std::string_view name) noexcept;

// Bytes per stored element.
std::size_t st_dtype_size(st_dtype dtype) noexcept;

// The plugin-ABI dtype with the same storage, or MNEME_DTYPE_UNDEFINED for I16 and BOOL, which
// the runtime never computes with. I8 maps to MNEME_DTYPE_I8; packed FP4 is the caller's call.
mneme_dtype to_mneme_dtype(st_dtype dtype) noexcept;

// A small set of dtypes, for "this tensor may be BF16 or F32" checks without allocating.
class st_dtype_set {
public:
    constexpr st_dtype_set() = default;
    constexpr st_dtype_set(st_dtype dtype) : bits_(bit(dtype)) {}  // NOLINT: implicit on purpose
    constexpr st_dtype_set(std::initializer_list<st_dtype> dtypes) {
        for (st_dtype d : dtypes) bits_ |= bit(d);
    }
    constexpr bool contains(st_dtype dtype) const { return (bits_ & bit(dtype)) != 0; }
    constexpr bool empty() const { return bits_ == 0; }

    // "BF16 or F32"
    std::string describe() const;

private:
    static constexpr uint32_t bit(st_dtype d) { return uint32_t{1} << static_cast<unsigned>(d); }
    uint32_t bits_ = 0;
};

}  // namespace mneme
