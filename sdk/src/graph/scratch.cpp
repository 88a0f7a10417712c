#include "graph/scratch.h"

#include <algorithm>

namespace mneme {

buffer_ptr scratch_spares::take(uint64_t min_bytes) {
    std::lock_guard lock(mu_);
    const auto best = std::max_element(spares_.begin(), spares_.end(),
                                       [](const buffer_ptr& a, const buffer_ptr& b) { return a->size() < b->size(); });
    if (best == spares_.end() || (*best)->size() < min_bytes) return nullptr;
    buffer_ptr b = std::move(*best);
    spares_.erase(best);
    return b;
}

void scratch_spares::give(std::vector<buffer_ptr> buffers) {
    uint64_t given = 0;
    for (const auto& b : buffers) given += b->size();
    std::vector<buffer_ptr> dropped;  // freed outside the lock
    {
        std::lock_guard lock(mu_);
        limit_ = std::max(limit_, given);
        for (auto& b : buffers) spares_.push_back(std::move(b));
        std::sort(spares_.begin(), spares_.end(),
                  [](const buffer_ptr& a, const buffer_ptr& b) { return a->size() > b->size(); });
        uint64_t kept = 0;
        std::size_t keep = 0;
        while (keep < spares_.size() && kept + spares_[keep]->size() <= limit_) kept += spares_[keep++]->size();
        for (std::size_t i = keep; i < spares_.size(); ++i) dropped.push_back(std::move(spares_[i]));
        spares_.resize(keep);
    }
}

uint64_t scratch_spares::bytes() const {
    std::lock_guard lock(mu_);
    uint64_t n = 0;
    for (const auto& b : spares_) n += b->size();
    return n;
}

scratch_arena::~scratch_arena() {
    if (!spares_ || chunks_.empty()) return;
    std::vector<buffer_ptr> buffers;
    for (auto& c : chunks_) buffers.push_back(std::move(c.buf));
    spares_->give(std::move(buffers));
}

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
        buffer_ptr spare = spares_ ? spares_->take(bytes) : nullptr;
        chunks_.push_back(chunk{spare ? std::move(spare) : dev_.alloc(size), 0});
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
