// The Vulkan plugin's C boundary: every entry point runs under plugin::guarded (no exception
// crosses it), takes the device lock and reports validation messages as errors.
#include <algorithm>
#include <cstring>
#include <mutex>
#include <string>

#include "plugin-boundary.h"
#include "vk-backend.h"

using mneme::plugin::guarded;
using mneme::plugin::raise;
namespace vk = mneme::vk;

namespace {

// Copies text into a fixed C field, truncated and NUL-terminated.
void copy_text(char* dst, std::size_t n, const std::string& text) {
    const std::size_t len = std::min(n - 1, text.size());
    std::memcpy(dst, text.data(), len);
    dst[len] = '\0';
}

// Runs f with the device locked; afterwards a lost device or a validation message fails the call.
template <class F>
mneme_status locked(mneme_backend* be, F&& f) {
    return guarded([&] {
        if (!be || !be->ctx) raise(MNEME_ERROR_INVALID_ARGUMENT, "no Vulkan backend");
        std::lock_guard<std::recursive_mutex> lock(be->ctx->mutex);
        be->ctx->check_health();
        f(*be->ctx);
        be->ctx->check_health();
        return MNEME_OK;
    });
}

mneme_status MNEME_CALL probe(const mneme_host_api*, mneme_plugin_probe_info* out) {
    return guarded([&] {
        if (!out) raise(MNEME_ERROR_INVALID_ARGUMENT, "probe: out is NULL");
        out->score = 0;
        out->device_count = 0;
        try {
            vk::instance inst;
            std::string why;
            const auto devices = vk::usable_devices(inst, why);
            if (devices.empty()) {
                copy_text(out->message, sizeof(out->message), why);
                return MNEME_OK;
            }
            out->score = devices.front().score;
            out->device_count = static_cast<uint32_t>(devices.size());
            copy_text(out->message, sizeof(out->message),
                      std::to_string(out->device_count) + " device(s), best: " + devices.front().props.deviceName +
                          (inst.validating() ? " (validation layer on)" : ""));
        } catch (const mneme::plugin::failure& e) {
            // No loader, no driver, no device: unusable here, which is not an error of the probe.
            copy_text(out->message, sizeof(out->message), e.what());
        }
        return MNEME_OK;
    });
}

mneme_status MNEME_CALL device_info(const mneme_host_api*, uint32_t device, mneme_plugin_device_info* out) {
    return guarded([&] {
        if (!out) raise(MNEME_ERROR_INVALID_ARGUMENT, "device_info: out is NULL");
        vk::instance inst;
        std::string why;
        const auto devices = vk::usable_devices(inst, why);
        if (device >= devices.size()) raise(MNEME_ERROR_INVALID_ARGUMENT, "device_info: no Vulkan device ", device);
        const auto& d = devices[device];
        out->type = vk::device_type(d.props);
        copy_text(out->name, sizeof(out->name), d.props.deviceName);
        out->memory_total_bytes = d.device_local_bytes;
        out->memory_free_bytes = d.device_local_bytes;  // no budget query: the heap size
        return MNEME_OK;
    });
}

mneme_status MNEME_CALL open(const mneme_host_api* host, uint32_t device, mneme_backend** out) {
    return guarded([&] {
        if (!host || !out) raise(MNEME_ERROR_INVALID_ARGUMENT, "open: bad arguments");
        auto be = std::make_unique<mneme_backend>();
        be->ctx = std::make_unique<vk::context>(host, device);
        *out = be.release();
        return MNEME_OK;
    });
}

void MNEME_CALL close(mneme_backend* be) {
    delete be;
}

mneme_status MNEME_CALL buffer_alloc(mneme_backend* be, uint64_t size, uint32_t, mneme_buffer** out) {
    return locked(be, [&](vk::context& ctx) {
        if (!out) raise(MNEME_ERROR_INVALID_ARGUMENT, "buffer_alloc: out is NULL");
        auto b = std::make_unique<mneme_buffer>();
        b->gpu = ctx.create_buffer(size);
        *out = b.release();
    });
}

void MNEME_CALL buffer_free(mneme_backend* be, mneme_buffer* b) {
    if (!b) return;
    if (be && be->ctx) {
        std::lock_guard<std::recursive_mutex> lock(be->ctx->mutex);
        // Recorded work may still read the buffer: finish it first (errors surface at the next sync).
        try {
            be->ctx->flush_all();
        } catch (...) {
        }
        be->ctx->destroy_buffer(b->gpu);
    }
    delete b;
}

// Only host-visible (mapped) device memory has a host address, e.g. on lavapipe or integrated GPUs.
void* MNEME_CALL buffer_host_ptr(mneme_backend*, mneme_buffer* b) {
    return b ? b->gpu.mapped : nullptr;
}

void check_range(const mneme_buffer* b, uint64_t offset, const void* p, uint64_t size, const char* what) {
    if (!b || (!p && size) || offset > b->gpu.size || size > b->gpu.size - offset) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, what, ": range out of bounds");
    }
}

mneme_status MNEME_CALL buffer_upload(mneme_backend* be, mneme_buffer* b, uint64_t offset, const void* src,
                                      uint64_t size) {
    return locked(be, [&](vk::context& ctx) {
        check_range(b, offset, src, size, "buffer_upload");
        if (size) ctx.upload(b->gpu, offset, src, size);
    });
}

mneme_status MNEME_CALL buffer_download(mneme_backend* be, mneme_buffer* b, uint64_t offset, void* dst, uint64_t size) {
    return locked(be, [&](vk::context& ctx) {
        check_range(b, offset, dst, size, "buffer_download");
        if (size) ctx.download(b->gpu, offset, dst, size);
    });
}

mneme_status MNEME_CALL queue_create(mneme_backend* be, mneme_queue** out) {
    return locked(be, [&](vk::context& ctx) {
        if (!out) raise(MNEME_ERROR_INVALID_ARGUMENT, "queue_create: out is NULL");
        auto q = std::make_unique<mneme_queue>();
        q->rec = std::make_unique<vk::recorder>(ctx);
        *out = q.release();
    });
}

void MNEME_CALL queue_destroy(mneme_backend* be, mneme_queue* q) {
    if (!q) return;
    if (be && be->ctx) {
        std::lock_guard<std::recursive_mutex> lock(be->ctx->mutex);
        q->rec.reset();
    }
    delete q;
}

mneme_status MNEME_CALL queue_submit(mneme_backend* be, mneme_queue* q, const mneme_op* ops, size_t n_ops) {
    return locked(be, [&](vk::context& ctx) {
        if (!q || !q->rec || (!ops && n_ops)) raise(MNEME_ERROR_INVALID_ARGUMENT, "queue_submit: bad arguments");
        for (size_t i = 0; i < n_ops; ++i) vk::record_op(ctx, *q->rec, ops[i]);
    });
}

mneme_status MNEME_CALL queue_sync(mneme_backend* be, mneme_queue* q) {
    return locked(be, [&](vk::context&) {
        if (!q || !q->rec) raise(MNEME_ERROR_INVALID_ARGUMENT, "queue_sync: bad queue");
        q->rec->flush();
    });
}

mneme_bool MNEME_CALL supports_op(mneme_backend*, const mneme_op* op) {
    return op && vk::supports(*op) ? MNEME_TRUE : MNEME_FALSE;
}

const char* MNEME_CALL last_error() {
    return mneme::plugin::last_error_storage().c_str();
}

const mneme_plugin_v1 k_table = {
    sizeof(mneme_plugin_v1),
    MNEME_PLUGIN_ABI_MAJOR,
    MNEME_PLUGIN_ABI_MINOR,
    "vulkan",
    "0.1.0",
    probe,
    device_info,
    open,
    close,
    buffer_alloc,
    nullptr,  // no buffer_wrap_host: weights are uploaded into device memory once
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

extern "C" const mneme_plugin_v1* mneme_vulkan_plugin_table(void) {
    return &k_table;
}

extern "C" MNEME_PLUGIN_EXPORT const mneme_plugin_v1* MNEME_CALL mneme_plugin_entry_v1(uint32_t host_abi_major,
                                                                                       uint32_t) {
    return host_abi_major == MNEME_PLUGIN_ABI_MAJOR ? mneme_vulkan_plugin_table() : nullptr;
}
