#include "vk-loader.h"

#include <dlfcn.h>
#include <link.h>

#include <cstring>
#include <mutex>

#include "plugin-boundary.h"

namespace mneme::vk {

const instance_fns* load_loader(std::string& why) {
    static instance_fns fns;
    static std::string error;
    static std::once_flag once;
    std::call_once(once, [] {
        // RTLD_LOCAL: the loader's symbols stay out of the host's namespace.
        void* lib = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
            const char* e = dlerror();
            error = std::string("the Vulkan loader (libvulkan.so.1) is not installed: ") + (e ? e : "dlopen failed");
            return;
        }
        fns.vkGetInstanceProcAddr = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(lib, "vkGetInstanceProcAddr"));
        if (!fns.vkGetInstanceProcAddr) {
            error = "libvulkan.so.1 has no vkGetInstanceProcAddr";
            return;
        }
#define MNEME_VK_LOAD_GLOBAL(name) \
    fns.name = reinterpret_cast<PFN_##name>(fns.vkGetInstanceProcAddr(VK_NULL_HANDLE, #name));
        MNEME_VK_GLOBAL_FNS(MNEME_VK_LOAD_GLOBAL)
#undef MNEME_VK_LOAD_GLOBAL
        if (!fns.vkCreateInstance || !fns.vkEnumerateInstanceLayerProperties ||
            !fns.vkEnumerateInstanceExtensionProperties) {
            error = "the Vulkan loader lacks its global functions";
        }
    });
    why = error;
    return error.empty() ? &fns : nullptr;
}

void pin_vulkan_stack() {
    dl_iterate_phdr(
        [](dl_phdr_info* info, std::size_t, void*) {
            const char* path = info->dlpi_name;
            const char* slash = path ? std::strrchr(path, '/') : nullptr;
            const char* file = slash ? slash + 1 : path;
            if (file && (std::strncmp(file, "libvulkan_", 10) == 0 || std::strncmp(file, "libVkLayer_", 11) == 0)) {
                // RTLD_NOLOAD: only marks what is already loaded; the reference it takes is never dropped.
                (void)dlopen(path, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
            }
            return 0;
        },
        nullptr);
}

void load_instance(instance_fns& f, VkInstance instance) {
#define MNEME_VK_LOAD_INSTANCE(name) f.name = reinterpret_cast<PFN_##name>(f.vkGetInstanceProcAddr(instance, #name));
    MNEME_VK_INSTANCE_FNS(MNEME_VK_LOAD_INSTANCE)
    MNEME_VK_DEBUG_FNS(MNEME_VK_LOAD_INSTANCE)
#undef MNEME_VK_LOAD_INSTANCE
#define MNEME_VK_CHECK_INSTANCE(name) \
    if (!f.name) plugin::raise(MNEME_ERROR_INTERNAL, "Vulkan instance function " #name " is missing");
    MNEME_VK_INSTANCE_FNS(MNEME_VK_CHECK_INSTANCE)
#undef MNEME_VK_CHECK_INSTANCE
}

device_fns load_device(const instance_fns& f, VkDevice device) {
    device_fns d;
#define MNEME_VK_LOAD_DEVICE(name)                                               \
    d.name = reinterpret_cast<PFN_##name>(f.vkGetDeviceProcAddr(device, #name)); \
    if (!d.name) plugin::raise(MNEME_ERROR_INTERNAL, "Vulkan device function " #name " is missing");
    MNEME_VK_DEVICE_FNS(MNEME_VK_LOAD_DEVICE)
#undef MNEME_VK_LOAD_DEVICE
    return d;
}

const char* result_text(VkResult r) {
    switch (r) {
        case VK_SUCCESS:
            return "VK_SUCCESS";
        case VK_NOT_READY:
            return "VK_NOT_READY";
        case VK_TIMEOUT:
            return "VK_TIMEOUT";
        case VK_INCOMPLETE:
            return "VK_INCOMPLETE";
        case VK_ERROR_OUT_OF_HOST_MEMORY:
            return "VK_ERROR_OUT_OF_HOST_MEMORY";
        case VK_ERROR_OUT_OF_DEVICE_MEMORY:
            return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
        case VK_ERROR_INITIALIZATION_FAILED:
            return "VK_ERROR_INITIALIZATION_FAILED";
        case VK_ERROR_DEVICE_LOST:
            return "VK_ERROR_DEVICE_LOST";
        case VK_ERROR_MEMORY_MAP_FAILED:
            return "VK_ERROR_MEMORY_MAP_FAILED";
        case VK_ERROR_LAYER_NOT_PRESENT:
            return "VK_ERROR_LAYER_NOT_PRESENT";
        case VK_ERROR_EXTENSION_NOT_PRESENT:
            return "VK_ERROR_EXTENSION_NOT_PRESENT";
        case VK_ERROR_FEATURE_NOT_PRESENT:
            return "VK_ERROR_FEATURE_NOT_PRESENT";
        case VK_ERROR_INCOMPATIBLE_DRIVER:
            return "VK_ERROR_INCOMPATIBLE_DRIVER";
        case VK_ERROR_TOO_MANY_OBJECTS:
            return "VK_ERROR_TOO_MANY_OBJECTS";
        case VK_ERROR_FRAGMENTED_POOL:
            return "VK_ERROR_FRAGMENTED_POOL";
        case VK_ERROR_OUT_OF_POOL_MEMORY:
            return "VK_ERROR_OUT_OF_POOL_MEMORY";
        default:
            return "VkResult error";
    }
}

}  // namespace mneme::vk
