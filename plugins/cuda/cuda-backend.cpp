// Probe, devices, buffers and queues of the CUDA plugin. Any CUDA failure in the probe (no driver:
// cudaErrorInsufficientDriver; a driver but no GPU: cudaErrorNoDevice) means "no device", never an
// error, so the CPU backend carries on.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "cuda-backend.h"
#include "plugin-boundary.h"

using mneme::plugin::guarded;
using mneme::plugin::raise;

namespace mneme::cuda {

void check(cudaError_t e, const char* what) {
    if (e == cudaSuccess) return;
    // A failed call also sets the thread's last error, which the next kernel launch would report
    // as its own (launches are checked with cudaGetLastError); it is reported here, so clear it.
    cudaGetLastError();
    mneme_status status = MNEME_ERROR_INTERNAL;
    switch (e) {
        case cudaErrorMemoryAllocation:
            status = MNEME_ERROR_OUT_OF_DEVICE_MEMORY;
            break;
        case cudaErrorInvalidValue:
        case cudaErrorInvalidConfiguration:
            status = MNEME_ERROR_INVALID_ARGUMENT;
            break;
        // Errors that leave the CUDA context unusable: the device is as good as lost.
        case cudaErrorIllegalAddress:
        case cudaErrorLaunchFailure:
        case cudaErrorMisalignedAddress:
        case cudaErrorIllegalInstruction:
        case cudaErrorHardwareStackError:
        case cudaErrorUnknown:
        case cudaErrorDevicesUnavailable:
        case cudaErrorNoDevice:
        case cudaErrorInsufficientDriver:
            status = MNEME_ERROR_DEVICE_LOST;
            break;
        default:
            break;
    }
    raise(status, what, ": ", cudaGetErrorName(e), " (", cudaGetErrorString(e), ")");
}

void use_device(const mneme_backend& be) {
    check(cudaSetDevice(be.device), "cudaSetDevice");
}

void* staging_api::alloc_pinned(std::size_t bytes) {
    void* p = nullptr;
    if (cudaHostAlloc(&p, bytes, cudaHostAllocDefault) != cudaSuccess) {
        cudaGetLastError();  // a refusal is an answer, not an error for the next launch to report
        return nullptr;
    }
    return p;
}

void staging_api::free_pinned(void* p) noexcept {
    cudaFreeHost(p);
}

cudaEvent_t staging_api::create_event() {
    cudaEvent_t e = nullptr;
    check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreate");
    return e;
}

void staging_api::destroy_event(cudaEvent_t e) noexcept {
    cudaEventDestroy(e);
}

// cudaErrorNotReady is an answer, not an error; a real error is reported by the wait that follows.
bool staging_api::completed(cudaEvent_t e) noexcept {
    return cudaEventQuery(e) == cudaSuccess;
}

void staging_api::wait(cudaEvent_t e) {
    check(cudaEventSynchronize(e), "waiting for an earlier upload");
}

void staging_api::record(cudaEvent_t e, cudaStream_t s) {
    check(cudaEventRecord(e, s), "cudaEventRecord");
}

void staging_api::copy_async(void* dst, const void* src, std::size_t bytes, cudaStream_t s) {
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s), "upload");
}

}  // namespace mneme::cuda

namespace {

using mneme::cuda::check;
using mneme::cuda::use_device;

// Waits for every queue of the backend, so a transfer sees (and does not disturb) submitted work.
void wait_for_queues(mneme_backend& be) {
    std::lock_guard lock(be.queues_mutex);
    for (mneme_queue* q : be.queues) check(cudaStreamSynchronize(q->stream), "waiting for the queue");
}

// After the queue's stream has finished (or failed for good), its submissions' events are free.
void retire_all(mneme_queue& q) noexcept {
    for (const auto& b : q.in_flight) q.spare_events.push_back(b.done);
    q.in_flight.clear();
    q.in_flight_ops = 0;
}

// Synchronises and frees a queue; errors have no caller left to go to.
void destroy_queue(mneme_queue* q) noexcept {
    cudaStreamSynchronize(q->stream);
    retire_all(*q);
    for (cudaEvent_t e : q->spare_events) cudaEventDestroy(e);
    cudaStreamDestroy(q->stream);
    delete q;
}

void log_message(const mneme_backend& be, mneme_log_level level, const std::string& message) {
    if (be.host && be.host->log) be.host->log(be.host->host, level, message.c_str());
}

void check_range(const mneme_buffer* b, uint64_t offset, const void* host, uint64_t size, const char* what) {
    if (!b || (!host && size) || offset > b->size || size > b->size - offset) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, what, ": range out of bounds");
    }
}

// The lowest compute capability the kernels were compiled for (80 from "80-real,86-real,89-real,90").
int lowest_architecture() {
    const std::string_view text = MNEME_CUDA_ARCHITECTURES_TEXT;
    int lowest = 0;
    std::size_t i = 0;
    while (i < text.size()) {
        int v = 0;
        bool digits = false;
        for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, digits = true) v = v * 10 + (text[i] - '0');
        if (digits && (lowest == 0 || v < lowest)) lowest = v;
        while (i < text.size() && text[i] != ',') ++i;  // skips "-real", "-virtual", "a"
        ++i;
    }
    return lowest;
}

int compute_capability(int device) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, device) != cudaSuccess) return 0;
    return prop.major * 10 + prop.minor;
}

mneme_status MNEME_CALL probe(const mneme_host_api*, mneme_plugin_probe_info* out) {
    return guarded([&] {
        if (!out) raise(MNEME_ERROR_INVALID_ARGUMENT, "probe: out is NULL");
        out->score = 0;
        out->device_count = 0;
        int count = 0;
        const cudaError_t e = cudaGetDeviceCount(&count);
        if (e != cudaSuccess) {
            std::snprintf(out->message, sizeof(out->message), "no CUDA device: %s (%s)", cudaGetErrorName(e),
                          cudaGetErrorString(e));
            return MNEME_OK;
        }
        if (count <= 0) {
            std::snprintf(out->message, sizeof(out->message), "no CUDA device");
            return MNEME_OK;
        }
        // Devices keep their CUDA numbering; open() refuses one the kernels were not built for.
        int usable = 0;
        for (int d = 0; d < count; ++d) usable += compute_capability(d) >= lowest_architecture() ? 1 : 0;
        if (usable == 0) {
            std::snprintf(out->message, sizeof(out->message),
                          "no usable CUDA device: %d found, none with compute capability >= %d.%d (built for %s)",
                          count, lowest_architecture() / 10, lowest_architecture() % 10, MNEME_CUDA_ARCHITECTURES_TEXT);
            return MNEME_OK;
        }
        int driver = 0, runtime = 0;
        cudaDriverGetVersion(&driver);
        cudaRuntimeGetVersion(&runtime);
        out->score = 100;  // above the CPU backend's 10
        out->device_count = static_cast<uint32_t>(count);
        std::snprintf(out->message, sizeof(out->message), "%d device(s), %d usable; driver %d.%d, runtime %d.%d", count,
                      usable, driver / 1000, driver % 1000 / 10, runtime / 1000, runtime % 1000 / 10);
        return MNEME_OK;
    });
}

mneme_status MNEME_CALL device_info(const mneme_host_api*, uint32_t device, mneme_plugin_device_info* out) {
    return guarded([&] {
        if (!out) raise(MNEME_ERROR_INVALID_ARGUMENT, "device_info: out is NULL");
        int count = 0;
        if (cudaGetDeviceCount(&count) != cudaSuccess || device >= static_cast<uint32_t>(count)) {
            raise(MNEME_ERROR_INVALID_ARGUMENT, "device_info: bad device ", device);
        }
        cudaDeviceProp prop{};
        check(cudaGetDeviceProperties(&prop, static_cast<int>(device)), "cudaGetDeviceProperties");
        out->type = prop.integrated ? MNEME_DEVICE_TYPE_INTEGRATED_GPU : MNEME_DEVICE_TYPE_DISCRETE_GPU;
        std::snprintf(out->name, sizeof(out->name), "%.100s (sm_%d%d)", prop.name, prop.major, prop.minor);
        out->memory_total_bytes = prop.totalGlobalMem;
        // Free memory needs a device context, which the probe phase must not create; the total is
        // the best cheap answer until the device is opened.
        out->memory_free_bytes = prop.totalGlobalMem;
        return MNEME_OK;
    });
}

mneme_status MNEME_CALL open(const mneme_host_api* host, uint32_t device, mneme_backend** out) {
    return guarded([&] {
        if (!host || !out) raise(MNEME_ERROR_INVALID_ARGUMENT, "open: bad arguments");
        int count = 0;
        check(cudaGetDeviceCount(&count), "cudaGetDeviceCount");
        if (device >= static_cast<uint32_t>(count)) raise(MNEME_ERROR_INVALID_ARGUMENT, "open: bad device ", device);
        const int cc = compute_capability(static_cast<int>(device));
        if (cc < lowest_architecture()) {
            raise(MNEME_ERROR_UNSUPPORTED, "CUDA device ", device, " has compute capability ", cc / 10, ".", cc % 10,
                  "; the plugin was built for ", MNEME_CUDA_ARCHITECTURES_TEXT);
        }
        auto be = std::make_unique<mneme_backend>();
        be->host = host;
        be->device = static_cast<int>(device);
        use_device(*be);
        // Creates the context now, so that failures show at open and not at the first op.
        check(cudaFree(nullptr), "creating the CUDA context");
        check(cudaStreamCreateWithFlags(&be->transfer, cudaStreamNonBlocking), "cudaStreamCreate");
        be->staging = std::make_unique<mneme::cuda::staging_ring<mneme::cuda::staging_api>>(
            be->staging_calls, mneme::cuda::k_staging_block_bytes, mneme::cuda::k_staging_blocks);
        *out = be.release();
        return MNEME_OK;
    });
}

void MNEME_CALL close(mneme_backend* be) {
    if (!be) return;
    // Queues are destroyed by the host first; whatever is left is released with the backend. The
    // staging blocks go after every stream that may copy from them has finished.
    if (cudaSetDevice(be->device) == cudaSuccess) {
        for (mneme_queue* q : be->queues) destroy_queue(q);
        be->queues.clear();
        if (be->staging) {
            const mneme::cuda::staging_stats& st = be->staging->stats();
            log_message(*be, MNEME_LOG_LEVEL_DEBUG,
                        "uploads through pinned staging: " + std::to_string(st.staged_uploads) + " (" +
                            std::to_string(st.staged_bytes) +
                            " bytes), waits for a busy block: " + std::to_string(st.waits));
            be->staging->release();
        }
        if (be->transfer) cudaStreamDestroy(be->transfer);
    }
    delete be;
}

mneme_status MNEME_CALL buffer_alloc(mneme_backend* be, uint64_t size, uint32_t, mneme_buffer** out) {
    return guarded([&] {
        if (!be || !out) raise(MNEME_ERROR_INVALID_ARGUMENT, "buffer_alloc: bad arguments");
        use_device(*be);
        void* p = nullptr;
        check(cudaMalloc(&p, size ? size : 1), "cudaMalloc");
        *out = new mneme_buffer{static_cast<uint8_t*>(p), size};
        return MNEME_OK;
    });
}

void MNEME_CALL buffer_free(mneme_backend* be, mneme_buffer* b) {
    if (!b) return;
    if (be && cudaSetDevice(be->device) == cudaSuccess) {
        // Queued kernels may still use the memory. A failure here has no caller to report to (and
        // a device that failed reports it again at the next sync), so the error is dropped.
        std::lock_guard lock(be->queues_mutex);
        for (mneme_queue* q : be->queues) cudaStreamSynchronize(q->stream);
        cudaFree(b->data);
    }
    delete b;
}

// Device memory has no host address.
void* MNEME_CALL buffer_host_ptr(mneme_backend*, mneme_buffer*) {
    return nullptr;
}

mneme_status MNEME_CALL buffer_upload(mneme_backend* be, mneme_buffer* b, uint64_t offset, const void* src,
                                      uint64_t size) {
    return guarded([&] {
        if (!be) raise(MNEME_ERROR_INVALID_ARGUMENT, "buffer_upload: no backend");
        check_range(b, offset, src, size, "buffer_upload");
        if (!size) return MNEME_OK;
        use_device(*be);
        {
            // With one queue (the runtime's case) the copy joins its stream, which orders it after
            // the kernels submitted before and before those submitted after, without waiting.
            std::lock_guard lock(be->queues_mutex);
            if (be->queues.size() == 1 && be->staging && be->staging->usable()) {
                const bool first = be->staging->block_count() == 0;
                if (be->staging->upload(b->data + offset, src, size, be->queues.front()->stream)) return MNEME_OK;
                if (first) {
                    log_message(*be, MNEME_LOG_LEVEL_WARN,
                                "no pinned host memory for upload staging: uploads are synchronous");
                }
            }
        }
        // Synchronous: several queues (no single stream orders the copy with all of them) or no
        // pinned memory. Complete before returning: the host may reuse `src` at once, and kernels
        // submitted later (on other streams) must see the data. A plain cudaMemcpy from pageable
        // memory may return before its DMA is done, and the legacy default stream does not order
        // non-blocking streams.
        wait_for_queues(*be);
        check(cudaMemcpyAsync(b->data + offset, src, size, cudaMemcpyHostToDevice, be->transfer), "upload");
        check(cudaStreamSynchronize(be->transfer), "upload");
        return MNEME_OK;
    });
}

mneme_status MNEME_CALL buffer_download(mneme_backend* be, mneme_buffer* b, uint64_t offset, void* dst, uint64_t size) {
    return guarded([&] {
        if (!be) raise(MNEME_ERROR_INVALID_ARGUMENT, "buffer_download: no backend");
        check_range(b, offset, dst, size, "buffer_download");
        if (!size) return MNEME_OK;
        use_device(*be);
        wait_for_queues(*be);
        check(cudaMemcpyAsync(dst, b->data + offset, size, cudaMemcpyDeviceToHost, be->transfer), "download");
        check(cudaStreamSynchronize(be->transfer), "download");
        return MNEME_OK;
    });
}

mneme_status MNEME_CALL queue_create(mneme_backend* be, mneme_queue** out) {
    return guarded([&] {
        if (!be || !out) raise(MNEME_ERROR_INVALID_ARGUMENT, "queue_create: bad arguments");
        use_device(*be);
        auto* q = new mneme_queue;
        const cudaError_t e = cudaStreamCreateWithFlags(&q->stream, cudaStreamNonBlocking);
        if (e != cudaSuccess) {
            delete q;
            check(e, "cudaStreamCreate");
        }
        std::lock_guard lock(be->queues_mutex);
        // Staged uploads ran on the one queue there was; the new queue's kernels must come after
        // them too.
        for (mneme_queue* other : be->queues) {
            const cudaError_t waited = cudaStreamSynchronize(other->stream);
            if (waited != cudaSuccess) {
                cudaStreamDestroy(q->stream);
                delete q;
                check(waited, "waiting for the queue");
            }
        }
        be->queues.push_back(q);
        *out = q;
        return MNEME_OK;
    });
}

void MNEME_CALL queue_destroy(mneme_backend* be, mneme_queue* q) {
    if (!q) return;
    if (be) {
        std::lock_guard lock(be->queues_mutex);
        std::erase(be->queues, q);
        if (cudaSetDevice(be->device) == cudaSuccess) {
            destroy_queue(q);
            return;
        }
    }
    delete q;
}

// Marks the end of a submission and waits for the oldest ones while more than k_max_queued_ops
// are queued, so the host never runs far ahead of the device (see cuda-backend.h).
void limit_run_ahead(mneme_queue& q, std::size_t n_ops) {
    cudaEvent_t e = nullptr;
    if (q.spare_events.empty()) {
        check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreate");
    } else {
        e = q.spare_events.back();
        q.spare_events.pop_back();
    }
    const cudaError_t recorded = cudaEventRecord(e, q.stream);
    if (recorded != cudaSuccess) {
        q.spare_events.push_back(e);
        check(recorded, "cudaEventRecord");
    }
    q.in_flight.push_back({e, n_ops});
    q.in_flight_ops += n_ops;
    while (q.in_flight.size() > 1 && q.in_flight_ops > mneme::cuda::k_max_queued_ops) {
        const mneme_queue::batch oldest = q.in_flight.front();
        check(cudaEventSynchronize(oldest.done), "running the queued kernels");
        q.in_flight.pop_front();
        q.in_flight_ops -= oldest.ops;
        q.spare_events.push_back(oldest.done);
    }
}

mneme_status MNEME_CALL queue_submit(mneme_backend* be, mneme_queue* q, const mneme_op* ops, size_t n_ops) {
    return guarded([&] {
        if (!be || !q || (!ops && n_ops)) raise(MNEME_ERROR_INVALID_ARGUMENT, "queue_submit: bad arguments");
        use_device(*be);
        // Errors of earlier calls were reported (or deliberately dropped) where they happened; a
        // launch below must only see its own. Errors that poison the context come back anyway.
        cudaGetLastError();
        for (size_t i = 0; i < n_ops; ++i) mneme::cuda::execute(*be, q->stream, ops[i]);
        if (n_ops) limit_run_ahead(*q, n_ops);
        return MNEME_OK;
    });
}

mneme_status MNEME_CALL queue_sync(mneme_backend* be, mneme_queue* q) {
    return guarded([&] {
        if (!be || !q) raise(MNEME_ERROR_INVALID_ARGUMENT, "queue_sync: bad arguments");
        use_device(*be);
        const cudaError_t e = cudaStreamSynchronize(q->stream);
        retire_all(*q);  // done, or failed for good (errors that stop a stream poison the context)
        check(e, "running the queued kernels");
        return MNEME_OK;
    });
}

mneme_bool MNEME_CALL supports_op(mneme_backend*, const mneme_op* op) {
    return op && mneme::cuda::supports(*op) ? MNEME_TRUE : MNEME_FALSE;
}

const char* MNEME_CALL last_error() {
    return mneme::plugin::last_error_storage().c_str();
}

const mneme_plugin_v1 k_table = {
    sizeof(mneme_plugin_v1),
    MNEME_PLUGIN_ABI_MAJOR,
    MNEME_PLUGIN_ABI_MINOR,
    "cuda",
    "0.1.0 (CUDA " MNEME_CUDA_VERSION_TEXT ")",
    probe,
    device_info,
    open,
    close,
    buffer_alloc,
    nullptr,  // buffer_wrap_host: weights are uploaded into device memory
    buffer_free,
    buffer_host_ptr,
    buffer_upload,
    buffer_download,
    queue_create,
    queue_destroy,
    queue_submit,
    queue_sync,
    supports_op,
    last_error,
};

}  // namespace

extern "C" const mneme_plugin_v1* mneme_cuda_plugin_table(void) {
    return &k_table;
}
