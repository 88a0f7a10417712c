#include "model/st-dtype.h"

#include <array>

namespace mneme {
namespace {

struct dtype_row {
    st_dtype dtype;
    std::string_view name;
    std::size_t size;
    mneme_dtype abi;
};

// Indexed by st_dtype.
constexpr std::array<dtype_row, st_dtype_count> k_dtypes{{
    {st_dtype::bf16, "BF16", 2, MNEME_DTYPE_BF16},
    {st_dtype::f16, "F16", 2, MNEME_DTYPE_F16},
    {st_dtype::f32, "F32", 4, MNEME_DTYPE_F32},
    {st_dtype::f64, "F64", 8, MNEME_DTYPE_F64},
    {st_dtype::f8_e4m3, "F8_E4M3", 1, MNEME_DTYPE_F8_E4M3},
    {st_dtype::f8_e8m0, "F8_E8M0", 1, MNEME_DTYPE_F8_E8M0},
    {st_dtype::i8, "I8", 1, MNEME_DTYPE_I8},
    {st_dtype::u8, "U8", 1, MNEME_DTYPE_U8},
    {st_dtype::i16, "I16", 2, MNEME_DTYPE_UNDEFINED},
    {st_dtype::i32, "I32", 4, MNEME_DTYPE_I32},
    {st_dtype::i64, "I64", 8, MNEME_DTYPE_I64},
    {st_dtype::boolean, "BOOL", 1, MNEME_DTYPE_UNDEFINED},
}};

constexpr bool table_is_indexed_by_enum() {
    for (std::size_t i = 0; i < k_dtypes.size(); ++i) {
        if (static_cast<std::size_t>(k_dtypes[i].dtype) != i) return false;
    }
    return true;
}
static_assert(table_is_indexed_by_enum());

const dtype_row& row(st_dtype dtype) noexcept {
    return k_dtypes[static_cast<std::size_t>(dtype)];
}

}  // namespace

std::string_view st_dtype_name(st_dtype dtype) noexcept {
    return row(dtype).name;
}

std::optional<st_dtype> st_dtype_from_name(std::string_view name) noexcept {
    for (const dtype_row& r : k_dtypes) {
        if (r.name == name) return r.dtype;
    }
    return std::nullopt;
}

std::size_t st_dtype_size(st_dtype dtype) noexcept {
    return row(dtype).size;
}

mneme_dtype to_mneme_dtype(st_dtype dtype) noexcept {
    return row(dtype).abi;
}

std::string st_dtype_set::describe() const {
    std::string out;
    for (const dtype_row& r : k_dtypes) {
        if (!contains(r.dtype)) continue;
        if (!out.empty()) out += " or ";
        out += r.name;
    }
    return out.empty() ? std::string("(none)") : out;
}

}  // namespace mneme
