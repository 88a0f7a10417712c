#include "core/runtime.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "core/large-alloc.h"

namespace mneme {
namespace {

// Host services handed to plugins. `host` is the runtime.
void MNEME_CALL host_log(void* host, mneme_log_level level, const char* message) {
    static_cast<runtime*>(host)->log().line(level, "plugin", message ? message : "");
}

void* MNEME_CALL host_alloc(void* host, size_t size, size_t align) {
    try {
        return static_cast<runtime*>(host)->allocate(size, align);
    } catch (...) {
        return nullptr;
    }
}

void MNEME_CALL host_free(void* host, void* p) { static_cast<runtime*>(host)->deallocate(p); }

void MNEME_CALL host_parallel_for(void* host, size_t n, size_t grain, mneme_range_fn fn, void* ctx) {
    static_cast<runtime*>(host)->pool().parallel_for(n, grain, [&](std::size_t b, std::size_t e) { fn(ctx, b, e); });
}

}  // namespace

runtime::runtime(const mneme_runtime_desc& desc) {
    log_ = logger(log_sink{desc.log_fn, desc.log_user_data, desc.log_level});
    pool_ = std::make_unique<thread_pool>(desc.n_threads);
    if (desc.allocator && desc.allocator->alloc && desc.allocator->free) {
        allocator_ = *desc.allocator;
        has_allocator_ = true;
    }
    memory_budget_ = desc.memory_budget_bytes;

    host_api_.struct_size = sizeof(host_api_);
    host_api_.abi_major = MNEME_PLUGIN_ABI_MAJOR;
    host_api_.abi_minor = MNEME_PLUGIN_ABI_MINOR;
    host_api_.host = this;
    host_api_.log = host_log;
    host_api_.alloc = host_alloc;
    host_api_.free = host_free;
    host_api_.parallel_for = host_parallel_for;
    host_api_.n_threads = pool_->size();

    plugin_search search;
    for (size_t i = 0; i < desc.plugin_path_count; ++i) {
        if (desc.plugin_paths && desc.plugin_paths[i]) search.explicit_paths.emplace_back(desc.plugin_paths[i]);
    }
    search.use_env = !(desc.flags & MNEME_RUNTIME_FLAG_NO_ENV_PLUGIN_PATH);
    search.use_default = !(desc.flags & MNEME_RUNTIME_FLAG_NO_DEFAULT_PLUGIN_PATHS);
    plugins_ = std::make_unique<plugin_registry>(&host_api_, log_);
    plugins_->discover(search);

    for (const auto& e : plugins_->entries()) {
        if (e.state != MNEME_PLUGIN_STATE_LOADED) continue;
        for (const auto& d : e.devices) devices_.push_back(device_ref{&e, &d});
    }
}

runtime::~runtime() {
    plugins_.reset();
    pool_.reset();
}

void* runtime::allocate(std::size_t size, std::size_t align) {
    if (align < alignof(std::max_align_t)) align = alignof(std::max_align_t);
    void* p = nullptr;
    if (has_allocator_) {
        p = allocator_.alloc(allocator_.user_data, size, align);
    } else if (!(p = large_alloc(size, align))) {
        const std::size_t rounded = (size + align - 1) / align * align;
        p = std::aligned_alloc(align, rounded == 0 ? align : rounded);
    }
    if (!p) throw std::bad_alloc();
    return p;
}

void runtime::deallocate(void* p) noexcept {
    if (!p) return;
    if (has_allocator_) {
        allocator_.free(allocator_.user_data, p);
    } else if (!large_free(p)) {
        std::free(p);
    }
}

}  // namespace mneme
