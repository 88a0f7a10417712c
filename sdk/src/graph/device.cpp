#include "graph/device.h"

#include "core/error.h"

namespace mneme {

buffer::~buffer() {
    if (raw_) dev_->plugin_.buffer_free(dev_->backend_, raw_);
    if (counted_) dev_->allocated_.fetch_sub(size_, std::memory_order_relaxed);
}

device::device(const mneme_plugin_v1& plugin, const mneme_host_api& host, uint32_t index, std::string name)
    : plugin_(plugin), name_(std::move(name)) {
    mneme_status st = plugin_.open(&host, index, &backend_);
    if (st != MNEME_OK) fail_call("open device", st);
    st = plugin_.queue_create(backend_, &queue_);
    if (st != MNEME_OK) {
        plugin_.close(backend_);
        backend_ = nullptr;
        fail_call("create queue", st);
    }
}

device::~device() {
    if (queue_) plugin_.queue_destroy(backend_, queue_);
    if (backend_) plugin_.close(backend_);
}

void device::fail_call(const char* what, mneme_status st) {
    const char* detail = plugin_.last_error ? plugin_.last_error() : "";
    fail(st < 0 ? st : MNEME_ERROR_INTERNAL, name_, " backend: ", what, ": ", mneme_status_string(st),
         detail && detail[0] ? ": " : "", detail ? detail : "");
}

buffer_ptr device::alloc(uint64_t bytes, bool counted) {
    mneme_buffer* raw = nullptr;
    const mneme_status st = plugin_.buffer_alloc(backend_, bytes, MNEME_BUFFER_HOST_VISIBLE, &raw);
    if (st != MNEME_OK) fail_call("allocate buffer", st);
    auto b = std::make_shared<buffer>(*this, raw, bytes, counted);
    if (counted) allocated_.fetch_add(bytes, std::memory_order_relaxed);
    return b;
}

buffer_ptr device::wrap_or_upload(const void* data, uint64_t bytes) {
    if (plugin_.buffer_wrap_host) {
        mneme_buffer* raw = nullptr;
        const mneme_status st = plugin_.buffer_wrap_host(backend_, const_cast<void*>(data), bytes, &raw);
        if (st != MNEME_OK) fail_call("wrap host memory", st);
        return std::make_shared<buffer>(*this, raw, bytes);
    }
    auto b = alloc(bytes);
    upload(b->raw(), 0, data, bytes);
    return b;
}

void device::upload(mneme_buffer* b, uint64_t offset, const void* src, uint64_t bytes) {
    const mneme_status st = plugin_.buffer_upload(backend_, b, offset, src, bytes);
    if (st != MNEME_OK) fail_call("upload", st);
}

void device::download(mneme_buffer* b, uint64_t offset, void* dst, uint64_t bytes) {
    sync();
    const mneme_status st = plugin_.buffer_download(backend_, b, offset, dst, bytes);
    if (st != MNEME_OK) fail_call("download", st);
}

void device::submit(const std::vector<mneme_op>& ops) {
    if (ops.empty()) return;
    const mneme_status st = plugin_.queue_submit(backend_, queue_, ops.data(), ops.size());
    if (st != MNEME_OK) fail_call("run operations", st);
}

void device::sync() {
    const mneme_status st = plugin_.queue_sync(backend_, queue_);
    if (st != MNEME_OK) fail_call("synchronise", st);
}

bool device::supports(const mneme_op& op) { return plugin_.supports_op(backend_, &op) != MNEME_FALSE; }

}  // namespace mneme
