// Host-side validation of op tensors for the CUDA backend: the same rules as the CPU backend
// (kernels index rows with one stride, so dimensions 2 and 3 must stack rows uniformly), plus the
// alignment device loads need. A host bug becomes an error here instead of a device fault, which
// would leave the CUDA context unusable.
#pragma once

#include <mneme/mneme_plugin.h>

#include <cstdint>

#include "cuda-backend.h"
#include "plugin-boundary.h"

namespace mneme::cuda {

inline int64_t row_count(const mneme_tensor& t) {
    return t.ne[1] * t.ne[2] * t.ne[3];
}
inline int64_t elements(const mneme_tensor& t) {
    return t.ne[0] * row_count(t);
}

inline uint64_t byte_extent(const mneme_tensor& t) {
    uint64_t last = 0;
    for (int d = 1; d < MNEME_MAX_DIMS; ++d) last += static_cast<uint64_t>((t.ne[d] - 1) * t.nb[d]);
    if (t.dtype == MNEME_DTYPE_FP4_E2M1) return last + static_cast<uint64_t>((t.ne[0] + 1) / 2);
    return last + static_cast<uint64_t>((t.ne[0] - 1) * t.nb[0]) + static_cast<uint64_t>(plugin::dtype_size(t.dtype));
}

// Shape, strides, bounds within the buffer, and element alignment of the first element.
inline void check_tensor(const mneme_tensor& t, const char* role) {
    if (!t.buffer) plugin::raise(MNEME_ERROR_INVALID_ARGUMENT, role, ": no buffer");
    for (int d = 0; d < MNEME_MAX_DIMS; ++d) {
        if (t.ne[d] < 1) plugin::raise(MNEME_ERROR_INVALID_ARGUMENT, role, ": ne[", d, "] = ", t.ne[d]);
        if (t.nb[d] < 0) plugin::raise(MNEME_ERROR_INVALID_ARGUMENT, role, ": negative stride");
    }
    if (t.offset > t.buffer->size || byte_extent(t) > t.buffer->size - t.offset) {
        plugin::raise(MNEME_ERROR_INVALID_ARGUMENT, role, ": view exceeds its buffer (", t.buffer->size, " bytes)");
    }
    const int64_t es = plugin::dtype_size(t.dtype);
    bool aligned = es <= 1 || t.offset % static_cast<uint64_t>(es) == 0;
    for (int d = 0; d < MNEME_MAX_DIMS && es > 1; ++d) aligned = aligned && (t.ne[d] == 1 || t.nb[d] % es == 0);
    if (!aligned)
        plugin::raise(MNEME_ERROR_INVALID_ARGUMENT, role, ": offset or strides not aligned to the element size");
}

template <class T>
T* data_of(const mneme_tensor& t) {
    return reinterpret_cast<T*>(t.buffer->data + t.offset);
}

// Rows must be contiguous inside and stacked with one stride; returns that stride in elements.
inline int64_t row_stride(const mneme_tensor& t, const char* role) {
    const int64_t es = plugin::dtype_size(t.dtype);
    if (es == 0 || t.nb[0] != es) plugin::raise(MNEME_ERROR_INVALID_ARGUMENT, role, ": rows must be contiguous");
    if (t.nb[1] % es) plugin::raise(MNEME_ERROR_INVALID_ARGUMENT, role, ": misaligned row stride");
    if ((t.ne[2] > 1 && t.nb[2] != t.nb[1] * t.ne[1]) || (t.ne[3] > 1 && t.nb[3] != t.nb[2] * t.ne[2])) {
        plugin::raise(MNEME_ERROR_INVALID_ARGUMENT, role, ": dimensions 2 and 3 must be packed");
    }
    return t.ne[1] > 1 || row_count(t) > 1 ? t.nb[1] / es : t.ne[0];
}

inline bool is_contiguous(const mneme_tensor& t) {
    const int64_t es = plugin::dtype_size(t.dtype);
    int64_t expect = es;
    for (int d = 0; d < MNEME_MAX_DIMS; ++d) {
        if (t.ne[d] > 1 && t.nb[d] != expect) return false;
        expect *= t.ne[d];
    }
    return es != 0;
}

inline void require_contiguous(const mneme_tensor& t, const char* role) {
    if (!is_contiguous(t)) plugin::raise(MNEME_ERROR_INVALID_ARGUMENT, role, ": must be contiguous");
}

inline void require_same_shape(const mneme_tensor& a, const mneme_tensor& b, const char* what) {
    for (int d = 0; d < MNEME_MAX_DIMS; ++d) {
        if (a.ne[d] != b.ne[d]) plugin::raise(MNEME_ERROR_INVALID_ARGUMENT, what, ": shapes differ in dim ", d);
    }
}

inline void require_f32(const mneme_tensor& t, const char* role) {
    if (t.dtype != MNEME_DTYPE_F32) plugin::raise(MNEME_ERROR_INVALID_ARGUMENT, role, ": must be F32");
}

template <class P>
const P& params_of(const mneme_op& op) {
    if (!op.params || op.params_size < sizeof(P)) {
        plugin::raise(MNEME_ERROR_INVALID_ARGUMENT, "op params missing or short");
    }
    return *static_cast<const P*>(op.params);
}

// Optional source i, or null.
inline const mneme_tensor* optional_src(const mneme_op& op, uint32_t i) {
    return op.n_src > i && op.src[i].buffer ? &op.src[i] : nullptr;
}

}  // namespace mneme::cuda
