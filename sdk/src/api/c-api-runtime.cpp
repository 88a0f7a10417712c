// Runtime, plugin diagnostics and device enumeration entry points of the C API.
#include <mneme/mneme.h>

#include "api/struct-copy.h"
#include "core/runtime.h"

using namespace mneme;

extern "C" {

MNEME_API mneme_status MNEME_CALL mneme_runtime_create(const mneme_runtime_desc* desc, mneme_runtime** out) noexcept {
    if (out) *out = nullptr;
    return api_call([&] {
        require(out != nullptr, "mneme_runtime_create: out is NULL");
        mneme_runtime_desc d = MNEME_RUNTIME_DESC_INIT;
        read_versioned(desc, d, "mneme_runtime_desc");
        if (desc && d.header_version / 1000000 > MNEME_VERSION_MAJOR) {
            fail(MNEME_ERROR_ABI_MISMATCH, "caller compiled against Mneme header ", d.header_version,
                 ", this library is ", MNEME_VERSION);
        }
        require(d.plugin_path_count == 0 || d.plugin_paths != nullptr,
                "mneme_runtime_desc.plugin_paths is NULL but plugin_path_count > 0");
        auto* rt = new mneme_runtime(d);
        if (rt->devices().empty()) {
            std::string why;
            for (const auto& e : rt->plugins().entries()) why += cat("; ", e.path, ": ", e.message);
            if (why.empty()) why = "; no plugin files were found";
            delete rt;
            fail(MNEME_ERROR_NO_BACKEND, "no usable backend plugin", why);
        }
        *out = rt;
        return MNEME_OK;
    });
}

MNEME_API void MNEME_CALL mneme_runtime_destroy(mneme_runtime* runtime) noexcept { delete runtime; }

MNEME_API mneme_status MNEME_CALL mneme_runtime_plugin_count(const mneme_runtime* runtime, size_t* out_count) noexcept {
    return api_call([&] {
        require(runtime && out_count, "mneme_runtime_plugin_count: NULL argument");
        *out_count = runtime->plugins().entries().size();
        return MNEME_OK;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_runtime_plugin_info(const mneme_runtime* runtime, size_t index,
                                                            mneme_plugin_info* out) noexcept {
    return api_call([&] {
        require(runtime && out, "mneme_runtime_plugin_info: NULL argument");
        const auto& entries = runtime->plugins().entries();
        if (index >= entries.size()) fail(MNEME_ERROR_INVALID_ARGUMENT, "plugin index ", index, " out of range");
        const auto& e = entries[index];
        mneme_plugin_info info{};
        info.state = e.state;
        info.name = e.name.c_str();
        info.path = e.path.c_str();
        info.message = e.message.c_str();
        info.version = e.version.c_str();
        info.device_count = static_cast<uint32_t>(e.devices.size());
        info.score = e.score;
        write_versioned(out, info, "mneme_plugin_info");
        return MNEME_OK;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_runtime_device_count(const mneme_runtime* runtime, size_t* out_count) noexcept {
    return api_call([&] {
        require(runtime && out_count, "mneme_runtime_device_count: NULL argument");
        *out_count = runtime->devices().size();
        return MNEME_OK;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_runtime_device_info(const mneme_runtime* runtime, size_t index,
                                                            mneme_device_info* out) noexcept {
    return api_call([&] {
        require(runtime && out, "mneme_runtime_device_info: NULL argument");
        const auto& devs = runtime->devices();
        if (index >= devs.size()) fail(MNEME_ERROR_INVALID_ARGUMENT, "device index ", index, " out of range");
        const auto& d = devs[index];
        mneme_device_info info{};
        info.type = d.device->type;
        info.backend = d.plugin->name.c_str();
        info.name = d.device->name.c_str();
        info.index = d.device->index;
        info.memory_total_bytes = d.device->memory_total;
        info.memory_free_bytes = d.device->memory_free;
        write_versioned(out, info, "mneme_device_info");
        return MNEME_OK;
    });
}

}  // extern "C"
