// Finds, loads, version-checks and probes backend plugins, and keeps a diagnostics entry for
// every candidate examined. Plugins stay loaded until the registry is destroyed.
#pragma once

#include <mneme/mneme_plugin.h>

#include <memory>
#include <string>
#include <vector>

#include "core/log.h"

namespace mneme {

struct plugin_device {
    std::string name;
    mneme_device_type type = MNEME_DEVICE_TYPE_UNDEFINED;
    uint32_t index = 0;
    uint64_t memory_total = 0;
    uint64_t memory_free = 0;
};

struct plugin_entry {
    std::string path;
    std::string name;
    std::string version;
    std::string message;
    mneme_plugin_state state = MNEME_PLUGIN_STATE_UNDEFINED;
    int32_t score = 0;
    void* handle = nullptr;                  // dlopen handle, closed by the registry
    const mneme_plugin_v1* table = nullptr;  // set only when state == LOADED
    std::vector<plugin_device> devices;
};

struct plugin_search {
    std::vector<std::string> explicit_paths;  // files or directories from the host
    bool use_env = true;                      // MNEME_PLUGIN_PATH
    bool use_default = true;                  // next to libmneme and <libdir>/mneme/plugins
};

class plugin_registry {
public:
    plugin_registry(const mneme_host_api* host, logger log);
    ~plugin_registry();
    plugin_registry(const plugin_registry&) = delete;
    plugin_registry& operator=(const plugin_registry&) = delete;

    void discover(const plugin_search& search);

    const std::vector<plugin_entry>& entries() const noexcept { return entries_; }
    // The loaded plugin of that name, or null.
    const plugin_entry* find(const std::string& name) const noexcept;
    // Loaded plugins with at least one device, best score first.
    std::vector<const plugin_entry*> usable() const;

private:
    void examine_directory(const std::string& dir, bool report_missing);
    void examine_file(const std::string& path);

    const mneme_host_api* host_;
    logger log_;
    std::vector<plugin_entry> entries_;
    std::vector<std::string> seen_;  // canonical paths already examined
};

// Directory containing the libmneme shared object (empty if unknown).
std::string library_directory();

}  // namespace mneme
