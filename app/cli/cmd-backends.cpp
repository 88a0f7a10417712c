// `mneme-cli backends`: every plugin examined, its state, and the devices of the usable ones.
#include <cstdio>

#include "commands.h"

namespace mneme_cli {
namespace {

const char* state_text(mneme_plugin_state s) {
    switch (s) {
        case MNEME_PLUGIN_STATE_LOADED: return "loaded";
        case MNEME_PLUGIN_STATE_NOT_FOUND: return "not found";
        case MNEME_PLUGIN_STATE_LOAD_FAILED: return "cannot be loaded";
        case MNEME_PLUGIN_STATE_NOT_A_PLUGIN: return "not a Mneme plugin";
        case MNEME_PLUGIN_STATE_ABI_MISMATCH: return "incompatible plugin ABI";
        case MNEME_PLUGIN_STATE_PROBE_FAILED: return "probe failed";
        case MNEME_PLUGIN_STATE_NO_DEVICE: return "no device";
        case MNEME_PLUGIN_STATE_DUPLICATE: return "duplicate";
        default: return "unknown";
    }
}

const char* device_type_text(mneme_device_type t) {
    switch (t) {
        case MNEME_DEVICE_TYPE_CPU: return "cpu";
        case MNEME_DEVICE_TYPE_DISCRETE_GPU: return "discrete gpu";
        case MNEME_DEVICE_TYPE_INTEGRATED_GPU: return "integrated gpu";
        case MNEME_DEVICE_TYPE_VIRTUAL: return "virtual";
        default: return "device";
    }
}

}  // namespace

int cmd_backends(const args& a) {
    auto known = runtime_option_names();
    a.allow_only(known);
    mneme_runtime* rt = open_runtime(a);
    if (!rt) return 1;
    size_t n = 0;
    if (mneme_runtime_plugin_count(rt, &n) != MNEME_OK) return report_failure("plugin count", MNEME_ERROR_INTERNAL);
    for (size_t i = 0; i < n; ++i) {
        mneme_plugin_info info{};
        info.struct_size = sizeof(info);
        if (mneme_runtime_plugin_info(rt, i, &info) != MNEME_OK) continue;
        const char* label = info.name && info.name[0] ? info.name : info.path;
        if (info.state == MNEME_PLUGIN_STATE_LOADED) {
            std::printf("%s: loaded, %s (%s)\n", label, info.message, info.path);
        } else {
            std::printf("%s: %s (%s)\n", label, state_text(info.state), info.message);
        }
    }
    size_t nd = 0;
    if (mneme_runtime_device_count(rt, &nd) == MNEME_OK) {
        for (size_t i = 0; i < nd; ++i) {
            mneme_device_info d{};
            d.struct_size = sizeof(d);
            if (mneme_runtime_device_info(rt, i, &d) != MNEME_OK) continue;
            std::printf("  %s:%u  %s [%s], %.1f GiB\n", d.backend, d.index, d.name, device_type_text(d.type),
                        static_cast<double>(d.memory_total_bytes) / (1024.0 * 1024.0 * 1024.0));
        }
    }
    mneme_runtime_destroy(rt);
    return 0;
}

}  // namespace mneme_cli
