#include "graph/scratch.h"

#include <algorithm>

namespace mneme {

void scratch_arena::reset() {
    peak_ = std::max(peak_, total_);
    if (chunks_.size() > 1) {
        chunks_.clear();  // consolidate into one buffer of the peak size on the next alloc
    }
    for (auto& c : chunks_) c.used = 0;
    cur_ = 0;
    total_ = 0;
}

scratch_arena::mark_t scratch_arena::mark() const noexcept {
    if (chunks_.empty()) return {};
    return {cur_, chunks_[cur_].used, total_};
}

void scratch_arena::release(const mark_t& m) noexcept {
    peak_ = std::max(peak_, total_);
    if (chunks_.empty()) return;
    for (std::size_t i = m.chunk + 1; i < chunks_.size(); ++i) chunks_[i].used = 0;
    chunks_[m.chunk].used = m.used;
    cur_ = m.chunk;
    total_ = m.total;
}

mneme_tensor scratch_arena::alloc(mneme_dtype dtype, std::initializer_list<int64_t> ne) {
    mneme_tensor shape = make_tensor(nullptr, 0, dtype, ne);
    const uint64_t bytes = (tensor_bytes(shape) + 63) / 64 * 64;
    // The current chunk, else the next spare that fits (spares exist after a release), else a new one.
    while (!chunks_.empty() && chunks_[cur_].used + bytes > chunks_[cur_].buf->size() && cur_ + 1 < chunks_.size()) {
        ++cur_;
    }
    if (chunks_.empty() || chunks_[cur_].used + bytes > chunks_[cur_].buf->size()) {
        // The first chunk of a pass takes the last peak with a quarter more (a growing context needs
        // a little more each pass; untouched host memory costs nothing); an overflow chunk takes a
        // quarter of the peak, or a doubling while the first pass is still finding it.
        const uint64_t last = chunks_.empty() ? 0 : chunks_.back().buf->size();
        const uint64_t grow = chunks_.empty() ? peak_ + peak_ / 4 : (peak_ ? peak_ / 4 : 2 * last);
        const uint64_t size = std::max({bytes, grow, uint64_t{1} << 20});
        chunks_.push_back(chunk{dev_.alloc(size), 0});
        cur_ = chunks_.size() - 1;
    }
    chunk& c = chunks_[cur_];
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
