// The CUDA backend: buffers in device memory, one CUDA stream per queue, ops validated on the host
// and launched as kernels (kernels/cuda). Float32 activations only; the float64 reference path
// stays on the CPU backend.
#pragma once

#include <cuda_runtime_api.h>
#include <mneme/mneme_plugin.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "cuda-staging.h"

namespace mneme::cuda {

// The CUDA calls behind staging_ring.
struct staging_api {
    using stream_type = cudaStream_t;
    using event_type = cudaEvent_t;
    void* alloc_pinned(std::size_t bytes);  // null when the system refuses
    void free_pinned(void* p) noexcept;
    cudaEvent_t create_event();
    void destroy_event(cudaEvent_t e) noexcept;
    bool completed(cudaEvent_t e) noexcept;
    void wait(cudaEvent_t e);
    void record(cudaEvent_t e, cudaStream_t s);
    void copy_async(void* dst, const void* src, std::size_t bytes, cudaStream_t s);
};

// Pinned staging: 4 blocks of 8 MiB, enough for a prefill chunk's Engram rows many times over,
// and a pipeline depth at which large uploads (weights) keep the DMA engine busy.
inline constexpr std::size_t k_staging_block_bytes = std::size_t{8} << 20;
inline constexpr std::size_t k_staging_blocks = 4;

// How many submitted ops a queue lets run ahead of the device before queue_submit waits. Launches
// are asynchronous, so without a bound the host queues a whole forward pass at once, and a pass
// the host abandons (cancel) keeps the GPU busy until all of it has run. A few batches of the
// host's 64 ops keep the GPU fed while bounding that tail.
inline constexpr std::size_t k_max_queued_ops = 256;

}  // namespace mneme::cuda

struct mneme_queue {
    cudaStream_t stream = nullptr;
    // Submissions that may still run: an event recorded after each, with its op count.
    struct batch {
        cudaEvent_t done = nullptr;
        std::size_t ops = 0;
    };
    std::deque<batch> in_flight;
    std::size_t in_flight_ops = 0;
    std::vector<cudaEvent_t> spare_events;
};

struct mneme_backend {
    const mneme_host_api* host = nullptr;
    int device = 0;
    cudaStream_t transfer = nullptr;  // downloads, and uploads that cannot be staged
    // Every queue, so that uploads and downloads can wait for the work already submitted: a buffer
    // may be rewritten from the host while an earlier kernel still reads it. Also guards `staging`.
    std::mutex queues_mutex;
    std::vector<mneme_queue*> queues;
    mneme::cuda::staging_api staging_calls;
    std::unique_ptr<mneme::cuda::staging_ring<mneme::cuda::staging_api>> staging;
};

struct mneme_buffer {
    uint8_t* data = nullptr;  // device memory
    uint64_t size = 0;
};

namespace mneme::cuda {

// Throws plugin::failure with the CUDA error's name and text when `e` is not cudaSuccess.
void check(cudaError_t e, const char* what);

// Makes the backend's device current on the calling thread (the CUDA runtime's current device is
// per thread, and the host may call from any thread).
void use_device(const mneme_backend& be);

// Validates one op and enqueues its kernels on `stream`; throws plugin::failure on bad arguments.
void execute(mneme_backend& be, cudaStream_t stream, const mneme_op& op);
bool supports(const mneme_op& op);

}  // namespace mneme::cuda

extern "C" const mneme_plugin_v1* mneme_cuda_plugin_table(void);
