// The object behind mneme_runtime: worker pool, logger, allocator, plugin registry.
#pragma once

#include <mneme/mneme.h>
#include <mneme/mneme_plugin.h>

#include <memory>
#include <string>
#include <vector>

#include "core/log.h"
#include "core/thread-pool.h"
#include "plugin/registry.h"

namespace mneme {

class runtime {
public:
    explicit runtime(const mneme_runtime_desc& desc);
    ~runtime();

    thread_pool& pool() noexcept { return *pool_; }
    const logger& log() const noexcept { return log_; }
    const plugin_registry& plugins() const noexcept { return *plugins_; }
    const mneme_host_api* host_api() const noexcept { return &host_api_; }
    uint64_t memory_budget() const noexcept { return memory_budget_; }

    void* allocate(std::size_t size, std::size_t align);
    void deallocate(void* p) noexcept;

    // Flattened device list over all loaded plugins (what mneme_runtime_device_* enumerate).
    struct device_ref {
        const plugin_entry* plugin;
        const plugin_device* device;
    };
    const std::vector<device_ref>& devices() const noexcept { return devices_; }

private:
    logger log_;
    std::unique_ptr<thread_pool> pool_;
    mneme_allocator allocator_{};
    bool has_allocator_ = false;
    uint64_t memory_budget_ = 0;
    mneme_host_api host_api_{};
    std::unique_ptr<plugin_registry> plugins_;
    std::vector<device_ref> devices_;
};

}  // namespace mneme

// The C handle is the C++ object.
struct mneme_runtime : mneme::runtime {
    using mneme::runtime::runtime;
};
