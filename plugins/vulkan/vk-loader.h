// The Vulkan entry points the plugin uses, loaded at run time from the system loader
// (libvulkan.so.1) so that a machine without Vulkan still loads the plugin and gets a clear
// probe message instead of a dlopen failure.
#pragma once

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include <string>
#include <vector>

namespace mneme::vk {

#define MNEME_VK_GLOBAL_FNS(X)            \
    X(vkCreateInstance)                   \
    X(vkEnumerateInstanceLayerProperties) \
    X(vkEnumerateInstanceExtensionProperties)

#define MNEME_VK_INSTANCE_FNS(X)                \
    X(vkDestroyInstance)                        \
    X(vkEnumeratePhysicalDevices)               \
    X(vkGetPhysicalDeviceProperties)            \
    X(vkGetPhysicalDeviceMemoryProperties)      \
    X(vkGetPhysicalDeviceQueueFamilyProperties) \
    X(vkCreateDevice)                           \
    X(vkGetDeviceProcAddr)

#define MNEME_VK_DEBUG_FNS(X)         \
    X(vkCreateDebugUtilsMessengerEXT) \
    X(vkDestroyDebugUtilsMessengerEXT)

#define MNEME_VK_DEVICE_FNS(X)       \
    X(vkDestroyDevice)               \
    X(vkGetDeviceQueue)              \
    X(vkDeviceWaitIdle)              \
    X(vkCreateBuffer)                \
    X(vkDestroyBuffer)               \
    X(vkGetBufferMemoryRequirements) \
    X(vkAllocateMemory)              \
    X(vkFreeMemory)                  \
    X(vkBindBufferMemory)            \
    X(vkMapMemory)                   \
    X(vkUnmapMemory)                 \
    X(vkCreateCommandPool)           \
    X(vkDestroyCommandPool)          \
    X(vkAllocateCommandBuffers)      \
    X(vkBeginCommandBuffer)          \
    X(vkEndCommandBuffer)            \
    X(vkResetCommandBuffer)          \
    X(vkQueueSubmit)                 \
    X(vkCreateFence)                 \
    X(vkDestroyFence)                \
    X(vkWaitForFences)               \
    X(vkResetFences)                 \
    X(vkCreateShaderModule)          \
    X(vkDestroyShaderModule)         \
    X(vkCreateDescriptorSetLayout)   \
    X(vkDestroyDescriptorSetLayout)  \
    X(vkCreatePipelineLayout)        \
    X(vkDestroyPipelineLayout)       \
    X(vkCreateComputePipelines)      \
    X(vkDestroyPipeline)             \
    X(vkCreateDescriptorPool)        \
    X(vkDestroyDescriptorPool)       \
    X(vkResetDescriptorPool)         \
    X(vkAllocateDescriptorSets)      \
    X(vkUpdateDescriptorSets)        \
    X(vkCmdBindPipeline)             \
    X(vkCmdBindDescriptorSets)       \
    X(vkCmdDispatch)                 \
    X(vkCmdPipelineBarrier)          \
    X(vkCmdCopyBuffer)               \
    X(vkCmdFillBuffer)

#define MNEME_VK_DECLARE(name) PFN_##name name = nullptr;

// Global and instance-level functions. One per process: the loader is never unloaded while the
// plugin is, so the pointers stay valid.
struct instance_fns {
    PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr = nullptr;
    MNEME_VK_GLOBAL_FNS(MNEME_VK_DECLARE)
    MNEME_VK_INSTANCE_FNS(MNEME_VK_DECLARE)
    MNEME_VK_DEBUG_FNS(MNEME_VK_DECLARE)
};

struct device_fns {
    MNEME_VK_DEVICE_FNS(MNEME_VK_DECLARE)
};

// The loader's global functions, or nullptr with `why` set when libvulkan cannot be loaded.
const instance_fns* load_loader(std::string& why);
// Keeps the Mesa-style drivers and layers the Vulkan loader has opened (libvulkan_*.so,
// libVkLayer_*.so; what they need stays with them) in memory for the rest of the process. Mesa's
// lavapipe (22.3.6-1+deb12u2) loses two 128-byte blocks each time the loader unloads it, which
// LeakSanitizer reports for every process that made an instance; a later instance would open the
// drivers again anyway. Nothing else the process loads is touched. Called once an instance exists
// and once its devices were listed (with a layer in between, the loader opens the drivers while
// listing layers and extensions).
void pin_vulkan_stack();

// Fills the instance-level functions of `f` for `instance` (debug ones may stay null).
void load_instance(instance_fns& f, VkInstance instance);
// Device-level functions; throws plugin::failure when one is missing.
device_fns load_device(const instance_fns& f, VkDevice device);

// Text of a VkResult for messages.
const char* result_text(VkResult r);

}  // namespace mneme::vk
