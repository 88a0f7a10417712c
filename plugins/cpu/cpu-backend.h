// The CPU backend: host-memory buffers and a queue that runs ops synchronously on the host's
// worker pool through the reference kernels.
#pragma once

#include <mneme/mneme_plugin.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "cpu-profile.h"
#include "mneme_kernels/exec.h"

namespace mneme::cpu {
enum class code_scan : uint8_t { unknown, no_nan_codes, has_nan_codes };
}

struct mneme_backend {
    const mneme_host_api* host;
    mneme::kernels::exec_ctx exec;
    uint32_t threads;  // the host pool's, for how many products to run side by side
    mneme::cpu::op_profile profile;
};

struct mneme_buffer {
    uint8_t* data;
    uint64_t size;
    bool owned;  // false for wrapped host memory
    // Wrapped memory (a mapped checkpoint's tensor) is scanned once for bytes that would be FP8
    // NaN codes, so that products with it as weights skip the kernels' scan of every row; writes
    // through this plugin (an upload, an op's output) forget the result.
    std::atomic<mneme::cpu::code_scan> codes{mneme::cpu::code_scan::unknown};
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
// Forgets what is known of the contents of the buffers ops[0..n) write (see mneme_buffer::codes).
void forget_written(const mneme_op* ops, std::size_t n);

}  // namespace mneme::cpu

extern "C" const mneme_plugin_v1* mneme_cpu_plugin_table(void);
