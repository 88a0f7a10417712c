// Per-forward scratch memory on a device: a bump allocator over device buffers that grows as
// needed and settles on one buffer of the size the last forward pass used.
//
// mark()/release() give it a stack discipline: a layer's temporaries are released when the layer
// has been recorded, so the peak is one layer's worth, not the whole model's. Releasing only moves
// the bump pointer back: ops already recorded may still read the released bytes, which is safe
// because a queue runs its ops in order (a later op that reuses the bytes runs after every earlier
// reader); buffers themselves are freed only at reset(), after the pass has been read back.
#pragma once

#include <algorithm>
#include <cstddef>
#include <mutex>
#include <vector>

#include "graph/device.h"
#include "graph/tensor-view.h"

namespace mneme {

// Scratch buffers a finished session leaves for the next session of the same model. A new
// session's first pass would otherwise write into freshly mapped pages, and on a 128-token prompt
// the page faults cost 10-20 % of the prefill. Holds at most one arena's worth: the largest
// buffers given, up to the largest capacity a single arena gave back (what the memory planner
// already counts for one session). Thread-safe: sessions end and start on any thread.
class scratch_spares {
public:
    // The largest spare of at least `min_bytes`, or null.
    buffer_ptr take(uint64_t min_bytes);
    // An arena's buffers, all at once, when it is destroyed.
    void give(std::vector<buffer_ptr> buffers);
    uint64_t bytes() const;

private:
    mutable std::mutex mu_;
    std::vector<buffer_ptr> spares_;
    uint64_t limit_ = 0;  // the most one arena gave back at once
};

class scratch_arena {
public:
    // With `spares`, new chunks come from there when one fits and the arena's buffers go back
    // there when it is destroyed; `spares` must outlive the arena.
    explicit scratch_arena(device& dev, scratch_spares* spares = nullptr) : dev_(dev), spares_(spares) {}
    ~scratch_arena();
    scratch_arena(const scratch_arena&) = delete;
    scratch_arena& operator=(const scratch_arena&) = delete;

    // Forgets all tensors handed out (their memory is reused from now on).
    void reset();
    mneme_tensor alloc(mneme_dtype dtype, std::initializer_list<int64_t> ne);
    uint64_t capacity() const noexcept;
    // Bytes handed out and not released, and the most ever (what the memory planner estimates).
    uint64_t in_use() const noexcept { return total_; }
    uint64_t high_water() const noexcept { return std::max(peak_, total_); }

    struct mark_t {
        std::size_t chunk = 0;
        uint64_t used = 0, total = 0;
    };
    mark_t mark() const noexcept;
    // Everything allocated since `m` is free again (tensors from before `m` stay valid).
    void release(const mark_t& m) noexcept;

private:
    struct chunk {
        buffer_ptr buf;
        uint64_t used = 0;
    };
    device& dev_;
    scratch_spares* spares_;
    std::vector<chunk> chunks_;
    std::size_t cur_ = 0;  // the chunk allocations come from; later ones are empty spares
    uint64_t peak_ = 0, total_ = 0;
};

// Sums tensor sizes the way scratch_arena::alloc rounds them (to 64 bytes), for the estimates of
// arch_model::scratch_bytes.
struct scratch_tally {
    explicit scratch_tally(int64_t elem_bytes) : es(elem_bytes) {}
    // `count` tensors of `elems` activation values each.
    scratch_tally& add(int64_t elems, int64_t count = 1) { return raw(elems * es, count); }
    scratch_tally& i32(int64_t elems) { return raw(elems * 4, 1); }
    scratch_tally& raw(int64_t size, int64_t count) {
        bytes_add((size + 63) / 64 * 64 * count);
        return *this;
    }
    void bytes_add(int64_t b) { bytes += b; }
    int64_t es;
    int64_t bytes = 0;
};

}  // namespace mneme
