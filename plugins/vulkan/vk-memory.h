// Device memory for buffers. Drivers allow only a few thousand vkAllocateMemory calls (often 4096)
// while a DeepSeek checkpoint has tens of thousands of tensors, so small buffers are placed in
// shared blocks (first fit, coalescing free ranges); large ones get their own allocation.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "vk-loader.h"

namespace mneme::vk {

struct allocation {
    VkDeviceMemory memory = VK_NULL_HANDLE;
    uint64_t offset = 0, size = 0;
    uint8_t* mapped = nullptr;  // host address of `offset` when the memory is mapped
    int64_t block = -1;         // index of the shared block, -1 for a dedicated allocation
};

class memory_pool {
  public:
    // Throws plugin::failure from allocate(); `fail` turns VkResults into failures.
    memory_pool(const device_fns& fn, VkDevice device, const VkPhysicalDeviceMemoryProperties& props,
                uint32_t max_allocations);
    ~memory_pool();
    memory_pool(const memory_pool&) = delete;
    memory_pool& operator=(const memory_pool&) = delete;

    allocation allocate(const VkMemoryRequirements& req, uint32_t type);
    void release(const allocation& a) noexcept;

  private:
    struct block {
        VkDeviceMemory memory = VK_NULL_HANDLE;
        uint32_t type = 0;
        uint64_t size = 0;
        uint8_t* mapped = nullptr;
        std::map<uint64_t, uint64_t> free;  // offset -> size
        uint32_t live = 0;
    };

    VkDeviceMemory raw_allocate(uint64_t size, uint32_t type, uint8_t** mapped);
    void raw_free(VkDeviceMemory memory, bool mapped) noexcept;

    const device_fns& fn_;
    VkDevice device_;
    VkPhysicalDeviceMemoryProperties props_;
    uint32_t max_allocations_;
    uint32_t allocations_ = 0;
    std::vector<std::unique_ptr<block>> blocks_;  // null entries are freed blocks
};

}  // namespace mneme::vk
