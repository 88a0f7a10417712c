#include "vk-recorder.h"

#include <algorithm>
#include <cstring>

#include "plugin-boundary.h"

namespace mneme::vk {
namespace {

using plugin::raise;

// Dispatches per command buffer: bounds the descriptor pool and the parameter ring. A longer op
// sequence is submitted in several command buffers.
constexpr uint32_t k_batch = 512;

template <class Use>
bool overlaps(const std::vector<Use>& uses, VkBuffer b, uint64_t lo, uint64_t hi) {
    return std::any_of(uses.begin(), uses.end(),
                       [&](const auto& u) { return u.buffer == b && u.lo < hi && lo < u.hi; });
}

}  // namespace

recorder::recorder(context& ctx) : ctx_(ctx) {
    const auto& f = ctx_.fn();
    VkDevice dev = ctx_.device();
    try {
        VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
        pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
        pci.queueFamilyIndex = ctx_.queue_family();
        ctx_.check(f.vkCreateCommandPool(dev, &pci, nullptr, &pool_), "create command pool");
        VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
        ai.commandPool = pool_;
        ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
        ai.commandBufferCount = 1;
        ctx_.check(f.vkAllocateCommandBuffers(dev, &ai, &cmd_), "allocate command buffer");
        VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        ctx_.check(f.vkCreateFence(dev, &fci, nullptr, &fence_), "create fence");
        VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, k_batch * (1 + k_slots)};
        VkDescriptorPoolCreateInfo dpi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
        dpi.maxSets = k_batch;
        dpi.poolSizeCount = 1;
        dpi.pPoolSizes = &size;
        ctx_.check(f.vkCreateDescriptorPool(dev, &dpi, nullptr, &descriptors_), "create descriptor pool");
        const uint64_t align = std::max<uint64_t>(16, ctx_.limits().minStorageBufferOffsetAlignment);
        param_stride_ = static_cast<uint32_t>((k_param_words * 4 + align - 1) / align * align);
        params_ = ctx_.create_host_buffer(uint64_t{param_stride_} * k_batch, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT);
    } catch (...) {
        release();
        throw;
    }
    ctx_.add_recorder(this);
}

recorder::~recorder() {
    ctx_.remove_recorder(this);
    release();
}

void recorder::release() noexcept {
    const auto& f = ctx_.fn();
    VkDevice dev = ctx_.device();
    if (recording_) {
        // Recorded work that nobody waited for: end and drop it (nothing was submitted).
        f.vkEndCommandBuffer(cmd_);
        recording_ = false;
    }
    ctx_.destroy_buffer(params_);
    if (descriptors_) f.vkDestroyDescriptorPool(dev, descriptors_, nullptr);
    if (fence_) f.vkDestroyFence(dev, fence_, nullptr);
    if (pool_) f.vkDestroyCommandPool(dev, pool_, nullptr);
    descriptors_ = VK_NULL_HANDLE;
    fence_ = VK_NULL_HANDLE;
    pool_ = VK_NULL_HANDLE;
}

void recorder::begin() {
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    ctx_.check(ctx_.fn().vkBeginCommandBuffer(cmd_, &bi), "begin command buffer");
    recording_ = true;
    used_ = 0;
    reads_.clear();
    writes_.clear();
}

void recorder::barrier_if_dependent(const std::array<binding, k_slots>& slots) {
    bool dependent = false;
    for (const binding& b : slots) {
        if (!b.buffer || b.hi == b.lo) continue;
        if (overlaps(writes_, b.buffer, b.lo, b.hi) || (b.write && overlaps(reads_, b.buffer, b.lo, b.hi))) {
            dependent = true;
            break;
        }
    }
    if (dependent) {
        VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
        mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
        mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
        ctx_.fn().vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                                       0, 1, &mb, 0, nullptr, 0, nullptr);
        reads_.clear();
        writes_.clear();
    }
    for (const binding& b : slots) {
        if (!b.buffer || b.hi == b.lo) continue;
        (b.write ? writes_ : reads_).push_back({b.buffer, b.lo, b.hi});
    }
}

void recorder::dispatch(shader s, const std::array<binding, k_slots>& slots, std::span<const uint32_t> params,
                        uint64_t items) {
    if (items == 0) return;
    if (params.size() != k_param_words) raise(MNEME_ERROR_INTERNAL, "parameter block of the wrong size");
    const uint64_t groups = (items + 63) / 64;
    const uint32_t max_x = std::min<uint32_t>(65535, ctx_.limits().maxComputeWorkGroupCount[0]);
    const uint64_t gx = std::min<uint64_t>(groups, max_x), gy = (groups + gx - 1) / gx;
    if (items > UINT32_MAX || gy > ctx_.limits().maxComputeWorkGroupCount[1]) {
        raise(MNEME_ERROR_UNSUPPORTED, "op of ", items, " work items is too large for one Vulkan dispatch");
    }
    VkPipeline pipe = ctx_.pipeline(s);
    if (recording_ && used_ == k_batch) flush();
    if (!recording_) begin();

    const auto& f = ctx_.fn();
    const uint64_t param_offset = uint64_t{param_stride_} * used_;
    std::memcpy(params_.mapped + param_offset, params.data(), params.size_bytes());

    VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    ai.descriptorPool = descriptors_;
    ai.descriptorSetCount = 1;
    const VkDescriptorSetLayout layout = ctx_.set_layout();
    ai.pSetLayouts = &layout;
    VkDescriptorSet set = VK_NULL_HANDLE;
    ctx_.check(f.vkAllocateDescriptorSets(ctx_.device(), &ai, &set), "allocate descriptor set");

    VkDescriptorBufferInfo infos[1 + k_slots];
    infos[0] = {params_.buffer, param_offset, k_param_words * 4};
    for (uint32_t i = 0; i < k_slots; ++i) {
        infos[1 + i] = slots[i].buffer ? VkDescriptorBufferInfo{slots[i].buffer, slots[i].offset, slots[i].range}
                                       : VkDescriptorBufferInfo{ctx_.dummy_buffer(), 0, VK_WHOLE_SIZE};
    }
    VkWriteDescriptorSet w[2]{};
    for (int i = 0; i < 2; ++i) {
        w[i].sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
        w[i].dstSet = set;
        w[i].dstBinding = static_cast<uint32_t>(i);
        w[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    }
    w[0].descriptorCount = 1;
    w[0].pBufferInfo = &infos[0];
    w[1].descriptorCount = k_slots;
    w[1].pBufferInfo = &infos[1];
    f.vkUpdateDescriptorSets(ctx_.device(), 2, w, 0, nullptr);

    barrier_if_dependent(slots);
    f.vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, pipe);
    f.vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, ctx_.pipeline_layout(), 0, 1, &set, 0, nullptr);
    f.vkCmdDispatch(cmd_, static_cast<uint32_t>(gx), static_cast<uint32_t>(gy), 1);
    ++used_;
}

void recorder::flush() {
    if (!recording_) return;
    const auto& f = ctx_.fn();
    // Make every shader write visible to later submissions, transfers and host reads.
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                       VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_HOST_READ_BIT;
    f.vkCmdPipelineBarrier(
        cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
        VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb,
        0, nullptr, 0, nullptr);
    recording_ = false;
    ctx_.check(f.vkEndCommandBuffer(cmd_), "end command buffer");
    ctx_.submit_and_wait(cmd_, fence_, "run operations");
    ctx_.check(f.vkResetDescriptorPool(ctx_.device(), descriptors_, 0), "reset descriptor pool");
    ctx_.check(f.vkResetCommandBuffer(cmd_, 0), "reset command buffer");
    used_ = 0;
}

}  // namespace mneme::vk
