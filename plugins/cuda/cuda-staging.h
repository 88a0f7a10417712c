// Pinned staging for host-to-device uploads. buffer_upload must leave the caller's memory free
// when it returns, yet a copy from pageable memory only overlaps other work if the driver stages
// it itself, which it does synchronously. So the bytes are copied into page-locked blocks first,
// and the DMA runs later, in stream order, from there: the call returns as soon as the memcpy is
// done, and the copy lands after the kernels queued before it and before those queued after it.
//
// The blocks form a ring. Small uploads share the current block; a block is reused from its start
// only after the event recorded behind its last copy has completed, so staged bytes are never
// overwritten while a copy may still read them. An upload larger than a block streams through the
// ring in block-sized pieces (the host fills one while the DMA drains another).
//
// The CUDA calls come from `Api` (a type with the members used below), so the bookkeeping runs in
// tests without a GPU.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace mneme::cuda {

struct staging_stats {
    uint64_t staged_uploads = 0;  // uploads that went through the ring
    uint64_t staged_bytes = 0;
    uint64_t waits = 0;  // times a block was still being copied from when the ring came back to it
};

template <class Api>
class staging_ring {
  public:
    using stream_type = typename Api::stream_type;
    using event_type = typename Api::event_type;

    staging_ring(Api& api, std::size_t block_bytes, std::size_t n_blocks)
        : api_(api), block_bytes_(block_bytes), wanted_blocks_(n_blocks) {}
    ~staging_ring() { release(); }
    staging_ring(const staging_ring&) = delete;
    staging_ring& operator=(const staging_ring&) = delete;

    // Copies `size` bytes from `src` to device address `dst`, asynchronously on `stream`; `src` may
    // be reused on return. Returns false, having done nothing, when no pinned memory can be had
    // (the caller then copies synchronously). Api errors propagate as its exceptions.
    bool upload(void* dst, const void* src, std::size_t size, stream_type stream) {
        if (size == 0) return true;
        if (!ensure_blocks()) return false;
        auto* out = static_cast<uint8_t*>(dst);
        const auto* in = static_cast<const uint8_t*>(src);
        while (size > 0) {
            // A piece that fits the current block stays whole; only one larger than a block is split.
            const std::size_t piece = std::min(size, block_bytes_);
            if (blocks_[current_].used + piece > block_bytes_) next_block();
            block& b = blocks_[current_];
            std::memcpy(b.host + b.used, in, piece);
            api_.copy_async(out, b.host + b.used, piece, stream);
            // Re-recorded after every copy: copies on one stream complete in order, so the event
            // of the last one covers the whole block.
            api_.record(b.done, stream);
            b.pending = true;
            b.used += piece;
            out += piece;
            in += piece;
            size -= piece;
            stats_.staged_bytes += piece;
        }
        ++stats_.staged_uploads;
        return true;
    }

    // Frees the blocks. Every stream that copied from them must have finished (the backend syncs its
    // queues first).
    void release() noexcept {
        for (block& b : blocks_) {
            api_.destroy_event(b.done);
            api_.free_pinned(b.host);
        }
        blocks_.clear();
        current_ = 0;
    }

    // False once pinned memory was refused; uploads are then synchronous for good.
    bool usable() const noexcept { return !refused_; }
    std::size_t block_count() const noexcept { return blocks_.size(); }
    const staging_stats& stats() const noexcept { return stats_; }

  private:
    struct block {
        uint8_t* host = nullptr;
        event_type done{};
        bool pending = false;  // `done` was recorded and may not have completed
        std::size_t used = 0;
    };

    // Allocates the ring on first use (a backend that never uploads pins nothing). Keeps as many
    // blocks as the system grants; none means staging is off.
    bool ensure_blocks() {
        if (!blocks_.empty()) return true;
        if (refused_) return false;
        for (std::size_t i = 0; i < wanted_blocks_; ++i) {
            void* p = api_.alloc_pinned(block_bytes_);
            if (!p) break;
            block b;
            b.host = static_cast<uint8_t*>(p);
            try {
                b.done = api_.create_event();
            } catch (...) {
                api_.free_pinned(p);
                throw;
            }
            blocks_.push_back(b);
        }
        refused_ = blocks_.empty();
        return !refused_;
    }

    void next_block() {
        current_ = (current_ + 1) % blocks_.size();
        block& b = blocks_[current_];
        if (b.pending) {
            if (!api_.completed(b.done)) {
                ++stats_.waits;
                api_.wait(b.done);
            }
            b.pending = false;
        }
        b.used = 0;
    }

    Api& api_;
    std::size_t block_bytes_, wanted_blocks_;
    std::vector<block> blocks_;
    std::size_t current_ = 0;
    bool refused_ = false;
    staging_stats stats_;
};

}  // namespace mneme::cuda
