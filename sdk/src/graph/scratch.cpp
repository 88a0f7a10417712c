#include "graph/scratch.h"

#include <algorithm>

namespace mneme {

void scratch_arena::reset() {
    peak_ = std::max(peak_, total_);
    if (chunks_.size() > 1) {
        chunks_.clear();  // consolidate into one buffer of the peak size on the next alloc
    }
    for (auto& c : chunks_) c.used = 0;
    total_ = 0;
}

mneme_tensor scratch_arena::alloc(mneme_dtype dtype, std::initializer_list<int64_t> ne) {
    mneme_tensor shape = make_tensor(nullptr, 0, dtype, ne);
    const uint64_t bytes = (tensor_bytes(shape) + 63) / 64 * 64;
    if (chunks_.empty() || chunks_.back().used + bytes > chunks_.back().buf->size()) {
        const uint64_t last = chunks_.empty() ? 0 : chunks_.back().buf->size();
        const uint64_t size = std::max({bytes, peak_, 2 * last, uint64_t{1} << 20});
        chunks_.push_back(chunk{dev_.alloc(size), 0});
    }
    chunk& c = chunks_.back();
    mneme_tensor t = make_tensor(c.buf->raw(), c.used, dtype, ne);
    c.used += bytes;
    total_ += bytes;
    return t;
}

uint64_t scratch_arena::capacity() const noexcept {
    uint64_t n = 0;
    for (const auto& c : chunks_) n += c.buf->size();
    return n;
}

}  // namespace mneme
