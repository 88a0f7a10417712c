// The CPU backend: host-memory buffers and a queue that runs ops synchronously on the host's
// worker pool through the reference kernels.
#pragma once

#include <mneme/mneme_plugin.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "cpu-profile.h"
#include "mneme_kernels/exec.h"

struct mneme_backend {
    const mneme_host_api* host;
    mneme::kernels::exec_ctx exec;
    uint32_t threads;  // the host pool's, for how many products to run side by side
    mneme::cpu::op_profile profile;
};

struct mneme_buffer {
    mneme_buffer(uint8_t* d, uint64_t n, bool own) : data(d), size(n), owned(own) {}
    uint8_t* data;
    uint64_t size;
    bool owned;  // false for wrapped host memory
    // FP8 weights are scanned once for bytes that would be NaN codes, per tensor extent (offset,
    // bytes), so that products with them as weights skip the kernels' scan of every row. Weights
    // live in wrapped memory (a mapped checkpoint) or in owned memory the runtime copied them into
    // (resident weights: many tensors in one buffer, hence per extent). Any write through this
    // plugin (an upload, an op's output) forgets everything known of the buffer.
    struct extent_hash {
        std::size_t operator()(const std::pair<uint64_t, uint64_t>& e) const noexcept {
            return std::hash<uint64_t>{}(e.first * 0x9e3779b97f4a7c15ull ^ e.second);
        }
    };
    // Looked up once per FP8 product: a hash map (1100 extents, caches refilled between lookups as a
    // decoding step refills them: 13 ns a lookup, against 26 for an ordered map's walk).
    std::mutex scans_mutex;
    std::unordered_map<std::pair<uint64_t, uint64_t>, bool, extent_hash> scans;  // extent -> free of NaN codes
    std::atomic<bool> any_scans{false};
};

struct mneme_queue {
    int unused;
};

namespace mneme::cpu {

// Runs one op (argument checks included); throws plugin::failure on bad arguments.
void execute(mneme_backend& be, const mneme_op& op);
// Runs ops[0] or a run of ops from it that can share the pool (n >= 1); returns how many ran.
std::size_t execute_some(mneme_backend& be, const mneme_op* ops, std::size_t n);
bool supports(const mneme_op& op);
// Forgets what is known of a buffer's contents (see mneme_buffer::scans), as after a write.
void forget_contents(mneme_buffer& b);
// forget_contents for the buffers ops[0..n) write.
void forget_written(const mneme_op* ops, std::size_t n);

}  // namespace mneme::cpu

extern "C" const mneme_plugin_v1* mneme_cpu_plugin_table(void);
