// Size-versioned struct handling for the C API: callers declare struct_size; we read only what
// they gave us and default the rest, so structs can grow by appending fields.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/error.h"

namespace mneme {

// Copies a caller's input struct into `out` (which holds the library defaults).
template <class T>
void read_versioned(const T* in, T& out, const char* what) {
    if (!in) return;
    const uint32_t size = in->struct_size;
    if (size < sizeof(uint32_t)) fail(MNEME_ERROR_INVALID_ARGUMENT, what, ".struct_size is ", size, " (use the _INIT macro)");
    std::memcpy(static_cast<void*>(&out), in, size < sizeof(T) ? size : sizeof(T));
    out.struct_size = sizeof(T);
}

// Writes `value` into a caller's output struct, honouring the caller's struct_size.
template <class T>
void write_versioned(T* out, const T& value, const char* what) {
    require(out != nullptr, what);
    const uint32_t size = out->struct_size;
    if (size < sizeof(uint32_t)) fail(MNEME_ERROR_INVALID_ARGUMENT, what, "->struct_size is ", size, " (set it to sizeof)");
    T v = value;
    v.struct_size = size < sizeof(T) ? size : static_cast<uint32_t>(sizeof(T));
    std::memcpy(static_cast<void*>(out), &v, v.struct_size);
}

}  // namespace mneme
