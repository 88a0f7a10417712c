// Building mneme_tensor views: contiguous tensors in a buffer, and slices of them.
#pragma once

#include <mneme/mneme_plugin.h>

#include <cstdint>
#include <initializer_list>

#include "core/error.h"

namespace mneme {

inline int64_t dtype_bytes(mneme_dtype t) { return mneme_dtype_size(t); }

// Bytes of one row of ne0 elements (FP4 packs two per byte).
inline int64_t row_bytes(mneme_dtype t, int64_t ne0) {
    return t == MNEME_DTYPE_FP4_E2M1 ? (ne0 + 1) / 2 : ne0 * dtype_bytes(t);
}

// A contiguous tensor at `offset` of `buf`, shape given innermost first.
inline mneme_tensor make_tensor(mneme_buffer* buf, uint64_t offset, mneme_dtype dtype, std::initializer_list<int64_t> ne) {
    mneme_tensor t{};
    t.buffer = buf;
    t.offset = offset;
    t.dtype = dtype;
    int d = 0;
    for (int64_t n : ne) t.ne[d++] = n;
    for (; d < MNEME_MAX_DIMS; ++d) t.ne[d] = 1;
    t.nb[0] = dtype == MNEME_DTYPE_FP4_E2M1 ? 0 : dtype_bytes(dtype);
    t.nb[1] = row_bytes(dtype, t.ne[0]);
    for (d = 2; d < MNEME_MAX_DIMS; ++d) t.nb[d] = t.nb[d - 1] * t.ne[d - 1];
    return t;
}

inline uint64_t tensor_bytes(const mneme_tensor& t) {
    return static_cast<uint64_t>(row_bytes(t.dtype, t.ne[0]) * t.ne[1] * t.ne[2] * t.ne[3]);
}

// Rows [r0, r0 + n) of a 2-D view (dimension 1).
inline mneme_tensor rows_of(const mneme_tensor& t, int64_t r0, int64_t n) {
    mneme_tensor v = t;
    v.offset += static_cast<uint64_t>(r0 * t.nb[1]);
    v.ne[1] = n;
    v.nb[2] = v.nb[1] * n;
    v.nb[3] = v.nb[2];
    return v;
}

// Columns [c0, c0 + n) of every row (dimension 0); the row stride stays.
inline mneme_tensor cols_of(const mneme_tensor& t, int64_t c0, int64_t n) {
    mneme_tensor v = t;
    v.offset += static_cast<uint64_t>(c0 * t.nb[0]);
    v.ne[0] = n;
    return v;
}

// Reinterprets a view with row stride nb1 as [ne0, ne1, ne2] where rows (ne1 x ne2) stack uniformly.
inline mneme_tensor as_3d(const mneme_tensor& t, int64_t ne0, int64_t ne1, int64_t ne2) {
    mneme_tensor v = t;
    v.ne[0] = ne0;
    v.ne[1] = ne1;
    v.ne[2] = ne2;
    v.ne[3] = 1;
    v.nb[2] = v.nb[1] * ne1;
    v.nb[3] = v.nb[2] * ne2;
    return v;
}

// [ne0, heads, tokens] view of a [heads*ne0, tokens] contiguous matrix.
inline mneme_tensor split_heads(const mneme_tensor& t, int64_t heads) {
    mneme_tensor v = t;
    const int64_t tokens = t.ne[1];
    v.ne[0] = t.ne[0] / heads;
    v.ne[1] = heads;
    v.ne[2] = tokens;
    v.nb[1] = t.nb[0] * v.ne[0];
    v.nb[2] = t.nb[1];
    v.nb[3] = v.nb[2] * tokens;
    return v;
}

}  // namespace mneme
