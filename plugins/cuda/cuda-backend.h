// The CUDA backend: buffers in device memory, one CUDA stream per queue, ops validated on the host
// and launched as kernels (kernels/cuda). Float32 activations only; the float64 reference path
// stays on the CPU backend.
#pragma once

#include <cuda_runtime_api.h>
#include <mneme/mneme_plugin.h>

#include <cstdint>
#include <mutex>
#include <vector>

struct mneme_queue {
    cudaStream_t stream = nullptr;
};

struct mneme_backend {
    const mneme_host_api* host = nullptr;
    int device = 0;
    cudaStream_t transfer = nullptr;  // uploads and downloads
    // Every queue, so that uploads and downloads can wait for the work already submitted: a buffer
    // may be rewritten from the host while an earlier kernel still reads it.
    std::mutex queues_mutex;
    std::vector<mneme_queue*> queues;
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
