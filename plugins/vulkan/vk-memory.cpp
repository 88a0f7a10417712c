#include "vk-memory.h"

#include <algorithm>

#include "plugin-boundary.h"

namespace mneme::vk {
namespace {

using plugin::raise;

constexpr uint64_t k_block_bytes = 64ull << 20;  // shared blocks; larger requests are dedicated
constexpr uint64_t k_dedicated_from = k_block_bytes / 4;

uint64_t align_up(uint64_t v, uint64_t a) {
    return (v + a - 1) / a * a;
}

}  // namespace

memory_pool::memory_pool(const device_fns& fn, VkDevice device, const VkPhysicalDeviceMemoryProperties& props,
                         uint32_t max_allocations)
    : fn_(fn), device_(device), props_(props), max_allocations_(max_allocations) {}

memory_pool::~memory_pool() {
    for (auto& b : blocks_) {
        if (b) raw_free(b->memory, b->mapped != nullptr);
    }
}

VkDeviceMemory memory_pool::raw_allocate(uint64_t size, uint32_t type, uint8_t** mapped) {
    if (allocations_ >= max_allocations_) {
        raise(MNEME_ERROR_OUT_OF_DEVICE_MEMORY, "the device allows only ", max_allocations_, " memory allocations");
    }
    const uint64_t heap = props_.memoryHeaps[props_.memoryTypes[type].heapIndex].size;
    if (size > heap)
        raise(MNEME_ERROR_OUT_OF_DEVICE_MEMORY, "cannot allocate ", size, " bytes: the memory heap has ", heap);
    VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    mai.allocationSize = size;
    mai.memoryTypeIndex = type;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    const VkResult r = fn_.vkAllocateMemory(device_, &mai, nullptr, &memory);
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY) {
        raise(MNEME_ERROR_OUT_OF_DEVICE_MEMORY, "cannot allocate ", size, " bytes of Vulkan memory (", result_text(r),
              ")");
    }
    if (r != VK_SUCCESS) raise(MNEME_ERROR_INTERNAL, "vkAllocateMemory: ", result_text(r));
    ++allocations_;
    *mapped = nullptr;
    const VkMemoryPropertyFlags host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    if ((props_.memoryTypes[type].propertyFlags & host) == host) {
        void* p = nullptr;
        const VkResult m = fn_.vkMapMemory(device_, memory, 0, VK_WHOLE_SIZE, 0, &p);
        if (m != VK_SUCCESS) {
            raw_free(memory, false);
            raise(MNEME_ERROR_INTERNAL, "vkMapMemory: ", result_text(m));
        }
        *mapped = static_cast<uint8_t*>(p);
    }
    return memory;
}

void memory_pool::raw_free(VkDeviceMemory memory, bool mapped) noexcept {
    if (mapped) fn_.vkUnmapMemory(device_, memory);
    fn_.vkFreeMemory(device_, memory, nullptr);
    --allocations_;
}

allocation memory_pool::allocate(const VkMemoryRequirements& req, uint32_t type) {
    allocation a;
    a.size = req.size;
    if (req.size >= k_dedicated_from) {
        a.memory = raw_allocate(req.size, type, &a.mapped);
        return a;
    }
    const uint64_t align = std::max<uint64_t>(req.alignment, 16);
    auto place = [&](block& b, int64_t index) {
        for (auto it = b.free.begin(); it != b.free.end(); ++it) {
            const uint64_t start = align_up(it->first, align), end = it->first + it->second;
            if (start + req.size > end) continue;
            const uint64_t before = start - it->first, after = end - (start + req.size);
            const uint64_t first = it->first;
            b.free.erase(it);
            if (before) b.free[first] = before;
            if (after) b.free[start + req.size] = after;
            ++b.live;
            a.memory = b.memory;
            a.offset = start;
            a.mapped = b.mapped ? b.mapped + start : nullptr;
            a.block = index;
            return true;
        }
        return false;
    };
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
        if (blocks_[i] && blocks_[i]->type == type && place(*blocks_[i], static_cast<int64_t>(i))) return a;
    }
    auto b = std::make_unique<block>();
    b->type = type;
    b->size = k_block_bytes;
    b->memory = raw_allocate(b->size, type, &b->mapped);
    b->free[0] = b->size;
    auto slot = std::find(blocks_.begin(), blocks_.end(), nullptr);
    const auto index = static_cast<int64_t>(slot - blocks_.begin());
    if (slot == blocks_.end()) {
        blocks_.push_back(std::move(b));
    } else {
        *slot = std::move(b);
    }
    place(*blocks_[static_cast<std::size_t>(index)], index);
    return a;
}

void memory_pool::release(const allocation& a) noexcept {
    if (!a.memory) return;
    if (a.block < 0) {
        raw_free(a.memory, a.mapped != nullptr);
        return;
    }
    auto& b = blocks_[static_cast<std::size_t>(a.block)];
    // Return the range and merge it with free neighbours.
    uint64_t start = a.offset, size = a.size;
    auto next = b->free.lower_bound(start);
    if (next != b->free.begin()) {
        auto prev = std::prev(next);
        if (prev->first + prev->second == start) {
            start = prev->first;
            size += prev->second;
            b->free.erase(prev);
        }
    }
    next = b->free.lower_bound(start + size);
    if (next != b->free.end() && next->first == start + size) {
        size += next->second;
        b->free.erase(next);
    }
    b->free[start] = size;
    // An empty block goes back to the driver, so freed scratch memory does not linger.
    if (--b->live == 0) {
        raw_free(b->memory, b->mapped != nullptr);
        b.reset();
    }
}

}  // namespace mneme::vk
