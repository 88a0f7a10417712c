// Per-forward scratch memory on a device: a bump allocator over device buffers that grows as
// needed and settles on one buffer of the size the last forward pass used.
#pragma once

#include <vector>

#include "graph/device.h"
#include "graph/tensor-view.h"

namespace mneme {

class scratch_arena {
public:
    explicit scratch_arena(device& dev) : dev_(dev) {}

    // Forgets all tensors handed out (their memory is reused from now on).
    void reset();
    mneme_tensor alloc(mneme_dtype dtype, std::initializer_list<int64_t> ne);
    uint64_t capacity() const noexcept;

private:
    struct chunk {
        buffer_ptr buf;
        uint64_t used = 0;
    };
    device& dev_;
    std::vector<chunk> chunks_;
    uint64_t peak_ = 0, total_ = 0;
};

}  // namespace mneme
