// An opened Vulkan device: logical device, compute queue, memory, the lazily built compute
// pipelines and the transfer path (staging copies) for uploads and downloads.
#pragma once

#include <mneme/mneme_plugin.h>

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vk-instance.h"
#include "vk-memory.h"
#include "vk-shaders.h"

namespace mneme::vk {

struct gpu_buffer {
    VkBuffer buffer = VK_NULL_HANDLE;
    allocation memory;
    uint64_t size = 0;          // as requested
    uint64_t alloc_size = 0;    // rounded up to whole 16-byte words the shaders may touch
    uint8_t* mapped = nullptr;  // host address when the memory is host-visible and coherent
};

class recorder;

class context {
  public:
    context(const mneme_host_api* host, uint32_t device_index);
    ~context();
    context(const context&) = delete;
    context& operator=(const context&) = delete;

    const device_fns& fn() const { return dev_fns_; }
    VkDevice device() const { return device_; }
    const VkPhysicalDeviceLimits& limits() const { return phys_.props.limits; }

    // Device-local memory (mapped when it is also host-visible), zero-filled.
    gpu_buffer create_buffer(uint64_t size);
    // Host-visible, coherent and mapped (staging and parameter blocks).
    gpu_buffer create_host_buffer(uint64_t size, VkBufferUsageFlags usage);
    void destroy_buffer(gpu_buffer& b);

    // Both wait for every queue's recorded work first, so they are ordered after it.
    void upload(const gpu_buffer& b, uint64_t offset, const void* src, uint64_t size);
    void download(const gpu_buffer& b, uint64_t offset, void* dst, uint64_t size);

    VkPipeline pipeline(shader s);
    VkPipelineLayout pipeline_layout() const { return layout_; }
    VkDescriptorSetLayout set_layout() const { return set_layout_; }
    VkQueue queue() const { return queue_; }
    uint32_t queue_family() const { return phys_.compute_family; }
    VkBuffer dummy_buffer() const { return dummy_.buffer; }

    // Submits `cmd` and waits on `fence` with the configured timeout; errors become failures.
    void submit_and_wait(VkCommandBuffer cmd, VkFence fence, const char* what);
    // Turns a failed VkResult into a plugin failure (marking the device lost when it is).
    void check(VkResult r, const char* what);
    // Fails when the device was lost earlier, or the validation layer reported something.
    void check_health();

    void add_recorder(recorder* r) { recorders_.push_back(r); }
    void remove_recorder(recorder* r);
    void flush_all();

    // Serialises every use of the device from the plugin's entry points.
    std::recursive_mutex mutex;

  private:
    void release() noexcept;
    void create_device();
    void create_layouts();
    void transfer(const gpu_buffer& b, uint64_t offset, uint64_t size, void* host, bool to_device);
    uint32_t find_memory_type(uint32_t type_bits, VkMemoryPropertyFlags want, VkMemoryPropertyFlags prefer) const;
    gpu_buffer make_buffer(uint64_t size, VkBufferUsageFlags usage, bool device_local);
    void on_validation(const std::string& msg);

    const mneme_host_api* host_;
    std::unique_ptr<instance> instance_;
    physical_device phys_;
    device_fns dev_fns_;
    VkDevice device_ = VK_NULL_HANDLE;
    VkQueue queue_ = VK_NULL_HANDLE;
    std::unique_ptr<memory_pool> memory_;
    VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
    VkPipelineLayout layout_ = VK_NULL_HANDLE;
    std::array<VkPipeline, static_cast<std::size_t>(shader::count)> pipelines_{};
    VkCommandPool transfer_pool_ = VK_NULL_HANDLE;
    VkCommandBuffer transfer_cmd_ = VK_NULL_HANDLE;
    VkFence transfer_fence_ = VK_NULL_HANDLE;
    gpu_buffer staging_;
    gpu_buffer dummy_;
    uint64_t timeout_ns_;
    bool lost_ = false;
    std::vector<recorder*> recorders_;
    std::mutex validation_mutex_;
    std::vector<std::string> validation_;
};

}  // namespace mneme::vk
