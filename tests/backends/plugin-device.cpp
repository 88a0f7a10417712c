#include "plugin-device.h"

#include <dlfcn.h>

#include <cstdlib>
#include <stdexcept>

namespace mneme::backend_test {
namespace {

std::string& backend_name_storage() {
    static std::string name;
    return name;
}

void* MNEME_CALL host_alloc(void*, size_t size, size_t align) {
    return std::aligned_alloc(align, (size + align - 1) / align * align);
}
void MNEME_CALL host_free(void*, void* p) {
    std::free(p);
}
// The tests run every range inline: deterministic and independent of any pool.
void MNEME_CALL host_parallel_for(void*, size_t n, size_t, mneme_range_fn fn, void* ctx) {
    if (n) fn(ctx, 0, n);
}

}  // namespace

const std::string& backend_under_test() {
    return backend_name_storage();
}
void set_backend_under_test(const std::string& name) {
    backend_name_storage() = name;
}

void plugin_device::log_cb(void* host, mneme_log_level level, const char* message) {
    auto* self = static_cast<plugin_device*>(host);
    if (level < MNEME_LOG_LEVEL_WARN) return;
    std::lock_guard<std::mutex> lock(self->log_mutex_);
    self->log_.emplace_back(message ? message : "");
}

plugin_device::plugin_device(const std::string& name) : name_(name) {
    const std::string path = std::string(MNEME_TEST_PLUGIN_DIR) + "/libmneme-backend-" + name + ".so";
    module_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!module_) {
        const char* e = dlerror();
        probe_message_ = "cannot load " + path + ": " + (e ? e : "?");
        return;
    }
    auto entry = reinterpret_cast<mneme_plugin_entry_v1_fn>(dlsym(module_, MNEME_PLUGIN_ENTRY_V1_SYMBOL));
    table_ = entry ? entry(MNEME_PLUGIN_ABI_MAJOR, MNEME_PLUGIN_ABI_MINOR) : nullptr;
    if (!table_) {
        probe_message_ = path + " is not a plugin of this ABI";
        return;
    }
    host_.struct_size = sizeof(host_);
    host_.abi_major = MNEME_PLUGIN_ABI_MAJOR;
    host_.abi_minor = MNEME_PLUGIN_ABI_MINOR;
    host_.host = this;
    host_.log = &plugin_device::log_cb;
    host_.alloc = host_alloc;
    host_.free = host_free;
    host_.parallel_for = host_parallel_for;
    host_.n_threads = 1;
    mneme_plugin_probe_info info{};
    info.struct_size = sizeof(info);
    if (table_->probe(&host_, &info) != MNEME_OK) {
        probe_message_ = "probe failed: " + last_error();
        return;
    }
    probe_message_ = info.message;
    if (info.score <= 0 || info.device_count == 0) return;
    if (table_->open(&host_, 0, &backend_) != MNEME_OK) {
        probe_message_ = "open failed: " + last_error();
        backend_ = nullptr;
        return;
    }
    if (table_->queue_create(backend_, &queue_) != MNEME_OK) {
        probe_message_ = "queue_create failed: " + last_error();
        table_->close(backend_);
        backend_ = nullptr;
    }
}

plugin_device::~plugin_device() {
    if (backend_) {
        if (queue_) table_->queue_destroy(backend_, queue_);
        table_->close(backend_);
    }
    // The module stays loaded: a driver may keep threads or atexit handlers inside it.
}

std::string plugin_device::last_error() const {
    const char* e = table_ && table_->last_error ? table_->last_error() : nullptr;
    return e ? e : "";
}

mneme_buffer* plugin_device::alloc(uint64_t bytes) {
    mneme_buffer* b = nullptr;
    if (table_->buffer_alloc(backend_, bytes, 0, &b) != MNEME_OK)
        throw std::runtime_error(name_ + ": alloc: " + last_error());
    return b;
}

void plugin_device::free_buffer(mneme_buffer* b) {
    table_->buffer_free(backend_, b);
}

void plugin_device::upload(mneme_buffer* b, uint64_t offset, const void* src, uint64_t bytes) {
    if (table_->buffer_upload(backend_, b, offset, src, bytes) != MNEME_OK) {
        throw std::runtime_error(name_ + ": upload: " + last_error());
    }
}

void plugin_device::download(mneme_buffer* b, uint64_t offset, void* dst, uint64_t bytes) {
    if (table_->queue_sync(backend_, queue_) != MNEME_OK) throw std::runtime_error(name_ + ": sync: " + last_error());
    if (table_->buffer_download(backend_, b, offset, dst, bytes) != MNEME_OK) {
        throw std::runtime_error(name_ + ": download: " + last_error());
    }
}

mneme_status plugin_device::run(const std::vector<mneme_op>& ops) {
    mneme_status st = table_->queue_submit(backend_, queue_, ops.data(), ops.size());
    if (st == MNEME_OK) st = table_->queue_sync(backend_, queue_);
    return st;
}

bool plugin_device::supports(const mneme_op& op) const {
    return table_->supports_op(backend_, &op) != MNEME_FALSE;
}

std::vector<std::string> plugin_device::take_log() {
    std::lock_guard<std::mutex> lock(log_mutex_);
    std::vector<std::string> out;
    out.swap(log_);
    return out;
}

}  // namespace mneme::backend_test
