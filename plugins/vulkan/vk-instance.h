// A Vulkan instance (optionally with the Khronos validation layer and a debug messenger) and the
// physical devices the plugin can use, ranked so that plugin device 0 is the best one.
#pragma once

#include <mneme/mneme_plugin.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "vk-loader.h"

namespace mneme::vk {

// Receives every validation warning or error (already formatted).
using validation_sink = std::function<void(const std::string&)>;

struct physical_device {
    VkPhysicalDevice handle = VK_NULL_HANDLE;
    VkPhysicalDeviceProperties props{};
    VkPhysicalDeviceMemoryProperties memory{};
    uint32_t compute_family = 0;
    int score = 0;             // 0 = unusable
    std::string unusable_why;  // set when score == 0
    uint64_t device_local_bytes = 0;
};

class instance {
  public:
    // Throws plugin::failure (with the reason) when no instance can be created. MNEME_VULKAN_VALIDATION=1
    // enables the validation layer; the sink then receives its messages.
    explicit instance(validation_sink sink = {});
    ~instance();
    instance(const instance&) = delete;
    instance& operator=(const instance&) = delete;

    const instance_fns& fns() const { return fns_; }
    VkInstance handle() const { return instance_; }
    bool validating() const { return messenger_ != VK_NULL_HANDLE; }

    // Every physical device, usable ones first in descending score (stable otherwise).
    std::vector<physical_device> devices() const;

  private:
    static VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                     VkDebugUtilsMessageTypeFlagsEXT types,
                                                     const VkDebugUtilsMessengerCallbackDataEXT* data, void* self);

    instance_fns fns_;
    VkInstance instance_ = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
    validation_sink sink_;
};

// True when MNEME_VULKAN_VALIDATION asks for the validation layer.
bool validation_requested();

// Usable devices only (what the plugin numbers 0..n-1), plus the reason when there are none.
std::vector<physical_device> usable_devices(const instance& inst, std::string& why_none);

mneme_device_type device_type(const VkPhysicalDeviceProperties& p);

}  // namespace mneme::vk
