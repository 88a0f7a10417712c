#include "vk-instance.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "plugin-boundary.h"

namespace mneme::vk {
namespace {

using plugin::raise;

constexpr const char* k_validation_layer = "VK_LAYER_KHRONOS_validation";

bool has_layer(const instance_fns& f, const char* name) {
    uint32_t n = 0;
    f.vkEnumerateInstanceLayerProperties(&n, nullptr);
    std::vector<VkLayerProperties> layers(n);
    f.vkEnumerateInstanceLayerProperties(&n, layers.data());
    return std::any_of(layers.begin(), layers.end(),
                       [&](const auto& l) { return std::strcmp(l.layerName, name) == 0; });
}

bool has_instance_extension(const instance_fns& f, const char* layer, const char* name) {
    uint32_t n = 0;
    f.vkEnumerateInstanceExtensionProperties(layer, &n, nullptr);
    std::vector<VkExtensionProperties> ext(n);
    f.vkEnumerateInstanceExtensionProperties(layer, &n, ext.data());
    return std::any_of(ext.begin(), ext.end(), [&](const auto& e) { return std::strcmp(e.extensionName, name) == 0; });
}

// Preference among usable devices: discrete and integrated GPUs beat the CPU plugin (score 10);
// a CPU implementation such as lavapipe ranks below it, so models keep opening on the CPU plugin
// unless the Vulkan backend is asked for by name.
int type_score(VkPhysicalDeviceType t) {
    switch (t) {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
            return 100;
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
            return 50;
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
            return 30;
        case VK_PHYSICAL_DEVICE_TYPE_CPU:
            return 1;
        default:
            return 5;
    }
}

// What the shaders and the dispatcher rely on; anything else is an optional fast path.
std::string missing_requirement(const physical_device& d, bool has_compute) {
    const auto& l = d.props.limits;
    if (VK_API_VERSION_MAJOR(d.props.apiVersion) == 1 && VK_API_VERSION_MINOR(d.props.apiVersion) < 1) {
        return "needs Vulkan 1.1";
    }
    if (!has_compute) return "has no compute queue";
    if (l.maxPerStageDescriptorStorageBuffers < 8 || l.maxDescriptorSetStorageBuffers < 8) {
        return "allows fewer than 8 storage buffers per shader";
    }
    if (l.maxComputeWorkGroupInvocations < 64 || l.maxComputeWorkGroupSize[0] < 64)
        return "has compute workgroups under 64";
    if (l.maxStorageBufferRange < (16u << 20)) return "has a storage buffer range under 16 MiB";
    return {};
}

}  // namespace

bool validation_requested() {
    const char* v = std::getenv("MNEME_VULKAN_VALIDATION");
    return v && v[0] && std::strcmp(v, "0") != 0;
}

instance::instance(validation_sink sink) : sink_(std::move(sink)) {
    std::string why;
    const instance_fns* loader = load_loader(why);
    if (!loader) raise(MNEME_ERROR_NO_BACKEND, why);
    fns_ = *loader;

    const bool validate = validation_requested();
    std::vector<const char*> layers, extensions;
    if (validate) {
        if (!has_layer(fns_, k_validation_layer)) {
            raise(MNEME_ERROR_NO_BACKEND, "MNEME_VULKAN_VALIDATION is set but ", k_validation_layer,
                  " is not installed");
        }
        if (!has_instance_extension(fns_, nullptr, VK_EXT_DEBUG_UTILS_EXTENSION_NAME) &&
            !has_instance_extension(fns_, k_validation_layer, VK_EXT_DEBUG_UTILS_EXTENSION_NAME)) {
            raise(MNEME_ERROR_NO_BACKEND, "MNEME_VULKAN_VALIDATION is set but VK_EXT_debug_utils is missing");
        }
        layers.push_back(k_validation_layer);
        extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    }
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "mneme";
    app.pEngineName = "mneme";
    app.apiVersion = VK_API_VERSION_1_1;

    // Chained into instance creation too, so that messages from vkCreate/DestroyInstance are caught.
    VkDebugUtilsMessengerCreateInfoEXT dbg{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    dbg.messageSeverity =
        VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    dbg.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                      VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    dbg.pfnUserCallback = &instance::on_message;
    dbg.pUserData = this;

    VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ci.pApplicationInfo = &app;
    ci.enabledLayerCount = static_cast<uint32_t>(layers.size());
    ci.ppEnabledLayerNames = layers.data();
    ci.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
    ci.ppEnabledExtensionNames = extensions.data();
    if (validate) ci.pNext = &dbg;
    const VkResult r = fns_.vkCreateInstance(&ci, nullptr, &instance_);
    pin_vulkan_stack();
    if (r != VK_SUCCESS) {
        raise(MNEME_ERROR_NO_BACKEND, "vkCreateInstance failed (", result_text(r), "): no usable Vulkan driver");
    }
    try {
        load_instance(fns_, instance_);
        if (validate) {
            if (!fns_.vkCreateDebugUtilsMessengerEXT || !fns_.vkDestroyDebugUtilsMessengerEXT) {
                raise(MNEME_ERROR_NO_BACKEND, "VK_EXT_debug_utils functions are missing");
            }
            if (fns_.vkCreateDebugUtilsMessengerEXT(instance_, &dbg, nullptr, &messenger_) != VK_SUCCESS) {
                raise(MNEME_ERROR_NO_BACKEND, "cannot create the validation messenger");
            }
        }
    } catch (...) {
        auto destroy =
            reinterpret_cast<PFN_vkDestroyInstance>(fns_.vkGetInstanceProcAddr(instance_, "vkDestroyInstance"));
        if (destroy) destroy(instance_, nullptr);
        throw;
    }
}

instance::~instance() {
    if (messenger_) fns_.vkDestroyDebugUtilsMessengerEXT(instance_, messenger_, nullptr);
    if (instance_) fns_.vkDestroyInstance(instance_, nullptr);
}

VKAPI_ATTR VkBool32 VKAPI_CALL instance::on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                    VkDebugUtilsMessageTypeFlagsEXT,
                                                    const VkDebugUtilsMessengerCallbackDataEXT* data, void* self) {
    auto* inst = static_cast<instance*>(self);
    if (inst && inst->sink_) {
        std::string msg =
            severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? "validation error: " : "validation warning: ";
        msg += data && data->pMessage ? data->pMessage : "(no text)";
        inst->sink_(msg);
    }
    return VK_FALSE;  // never abort the call: the plugin reports the message as an error instead
}

std::vector<physical_device> instance::devices() const {
    uint32_t n = 0;
    fns_.vkEnumeratePhysicalDevices(instance_, &n, nullptr);
    pin_vulkan_stack();
    std::vector<VkPhysicalDevice> handles(n);
    if (n) fns_.vkEnumeratePhysicalDevices(instance_, &n, handles.data());
    handles.resize(n);
    std::vector<physical_device> out;
    for (VkPhysicalDevice h : handles) {
        physical_device d;
        d.handle = h;
        fns_.vkGetPhysicalDeviceProperties(h, &d.props);
        fns_.vkGetPhysicalDeviceMemoryProperties(h, &d.memory);
        uint32_t nq = 0;
        fns_.vkGetPhysicalDeviceQueueFamilyProperties(h, &nq, nullptr);
        std::vector<VkQueueFamilyProperties> families(nq);
        fns_.vkGetPhysicalDeviceQueueFamilyProperties(h, &nq, families.data());
        bool has_compute = false;
        for (uint32_t i = 0; i < nq && !has_compute; ++i) {
            if (families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
                d.compute_family = i;
                has_compute = true;
            }
        }
        for (uint32_t i = 0; i < d.memory.memoryHeapCount; ++i) {
            if (d.memory.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
                d.device_local_bytes += d.memory.memoryHeaps[i].size;
        }
        d.unusable_why = missing_requirement(d, has_compute);
        d.score = d.unusable_why.empty() ? type_score(d.props.deviceType) : 0;
        out.push_back(std::move(d));
    }
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.score > b.score; });
    return out;
}

std::vector<physical_device> usable_devices(const instance& inst, std::string& why_none) {
    std::vector<physical_device> all = inst.devices(), usable;
    for (auto& d : all) {
        if (d.score > 0) usable.push_back(d);
    }
    if (all.empty()) {
        why_none = "no Vulkan device found";
    } else if (usable.empty()) {
        why_none = std::string(all[0].props.deviceName) + " " + all[0].unusable_why;
    }
    return usable;
}

mneme_device_type device_type(const VkPhysicalDeviceProperties& p) {
    switch (p.deviceType) {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
            return MNEME_DEVICE_TYPE_DISCRETE_GPU;
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
            return MNEME_DEVICE_TYPE_INTEGRATED_GPU;
        // A CPU implementation (lavapipe) is a software device, not the host CPU backend.
        case VK_PHYSICAL_DEVICE_TYPE_CPU:
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
            return MNEME_DEVICE_TYPE_VIRTUAL;
        default:
            return MNEME_DEVICE_TYPE_UNDEFINED;
    }
}

}  // namespace mneme::vk
