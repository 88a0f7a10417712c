#include "vk-context.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "plugin-boundary.h"
#include "vk-recorder.h"

namespace mneme::vk {
namespace {

using plugin::raise;

constexpr uint64_t k_staging_bytes = 16ull << 20;

uint64_t timeout_from_env() {
    // Long enough for a software device (lavapipe) to finish a prefill; a hung GPU becomes an error.
    const char* s = std::getenv("MNEME_VULKAN_TIMEOUT_S");
    const long v = s ? std::strtol(s, nullptr, 10) : 0;
    return static_cast<uint64_t>(v > 0 ? v : 300) * 1000000000ull;
}

}  // namespace

context::context(const mneme_host_api* host, uint32_t device_index) : host_(host), timeout_ns_(timeout_from_env()) {
    instance_ = std::make_unique<instance>([this](const std::string& m) { on_validation(m); });
    std::string why;
    auto devices = usable_devices(*instance_, why);
    if (device_index >= devices.size()) {
        raise(MNEME_ERROR_NO_BACKEND, "Vulkan device ", device_index, " is not available", why.empty() ? "" : ": ",
              why);
    }
    phys_ = devices[device_index];
    try {
        create_device();
        create_layouts();
        dummy_ = make_buffer(16, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT, true);
        VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
        pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
        pci.queueFamilyIndex = phys_.compute_family;
        check(dev_fns_.vkCreateCommandPool(device_, &pci, nullptr, &transfer_pool_), "create command pool");
        VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
        ai.commandPool = transfer_pool_;
        ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
        ai.commandBufferCount = 1;
        check(dev_fns_.vkAllocateCommandBuffers(device_, &ai, &transfer_cmd_), "allocate command buffer");
        VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        check(dev_fns_.vkCreateFence(device_, &fci, nullptr, &transfer_fence_), "create fence");
        // The dummy buffer fills unused binding slots; give it defined contents.
        upload(dummy_, 0, std::array<uint8_t, 16>{}.data(), 16);
        check_health();
    } catch (...) {
        release();
        throw;
    }
}

context::~context() {
    release();
}

void context::release() noexcept {
    if (device_) {
        if (!lost_) dev_fns_.vkDeviceWaitIdle(device_);
        for (VkPipeline p : pipelines_) {
            if (p) dev_fns_.vkDestroyPipeline(device_, p, nullptr);
        }
        pipelines_ = {};
        destroy_buffer(staging_);
        destroy_buffer(dummy_);
        if (transfer_fence_) dev_fns_.vkDestroyFence(device_, transfer_fence_, nullptr);
        if (transfer_pool_) dev_fns_.vkDestroyCommandPool(device_, transfer_pool_, nullptr);
        if (layout_) dev_fns_.vkDestroyPipelineLayout(device_, layout_, nullptr);
        if (set_layout_) dev_fns_.vkDestroyDescriptorSetLayout(device_, set_layout_, nullptr);
        transfer_fence_ = VK_NULL_HANDLE;
        transfer_pool_ = VK_NULL_HANDLE;
        layout_ = VK_NULL_HANDLE;
        set_layout_ = VK_NULL_HANDLE;
        memory_.reset();
        dev_fns_.vkDestroyDevice(device_, nullptr);
        device_ = VK_NULL_HANDLE;
    }
    instance_.reset();
}

void context::create_device() {
    const float priority = 1.0f;
    VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qci.queueFamilyIndex = phys_.compute_family;
    qci.queueCount = 1;
    qci.pQueuePriorities = &priority;
    VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    dci.queueCreateInfoCount = 1;
    dci.pQueueCreateInfos = &qci;
    const auto& f = instance_->fns();
    const VkResult r = f.vkCreateDevice(phys_.handle, &dci, nullptr, &device_);
    if (r != VK_SUCCESS)
        raise(MNEME_ERROR_NO_BACKEND, "vkCreateDevice failed on ", phys_.props.deviceName, ": ", result_text(r));
    dev_fns_ = load_device(f, device_);
    dev_fns_.vkGetDeviceQueue(device_, phys_.compute_family, 0, &queue_);
    memory_ =
        std::make_unique<memory_pool>(dev_fns_, device_, phys_.memory, phys_.props.limits.maxMemoryAllocationCount);
}

void context::create_layouts() {
    VkDescriptorSetLayoutBinding b[2]{};
    b[0].binding = 0;
    b[0].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    b[0].descriptorCount = 1;
    b[0].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
    b[1] = b[0];
    b[1].binding = 1;
    b[1].descriptorCount = 7;
    VkDescriptorSetLayoutCreateInfo lci{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    lci.bindingCount = 2;
    lci.pBindings = b;
    check(dev_fns_.vkCreateDescriptorSetLayout(device_, &lci, nullptr, &set_layout_), "create descriptor set layout");
    VkPipelineLayoutCreateInfo pci{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    pci.setLayoutCount = 1;
    pci.pSetLayouts = &set_layout_;
    check(dev_fns_.vkCreatePipelineLayout(device_, &pci, nullptr, &layout_), "create pipeline layout");
}

VkPipeline context::pipeline(shader s) {
    VkPipeline& p = pipelines_[static_cast<std::size_t>(s)];
    if (p) return p;
    const auto code = shader_code(s);
    VkShaderModuleCreateInfo mci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    mci.codeSize = code.size_bytes();
    mci.pCode = code.data();
    VkShaderModule module = VK_NULL_HANDLE;
    check(dev_fns_.vkCreateShaderModule(device_, &mci, nullptr, &module), "create shader module");
    VkComputePipelineCreateInfo cpi{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    cpi.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    cpi.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    cpi.stage.module = module;
    cpi.stage.pName = "main";
    cpi.layout = layout_;
    const VkResult r = dev_fns_.vkCreateComputePipelines(device_, VK_NULL_HANDLE, 1, &cpi, nullptr, &p);
    dev_fns_.vkDestroyShaderModule(device_, module, nullptr);
    if (r != VK_SUCCESS) p = VK_NULL_HANDLE;
    check(r, shader_name(s));
    return p;
}

uint32_t context::find_memory_type(uint32_t type_bits, VkMemoryPropertyFlags want, VkMemoryPropertyFlags prefer) const {
    uint32_t fallback = UINT32_MAX;
    for (uint32_t i = 0; i < phys_.memory.memoryTypeCount; ++i) {
        if (!(type_bits & (1u << i))) continue;
        const VkMemoryPropertyFlags f = phys_.memory.memoryTypes[i].propertyFlags;
        if ((f & want) != want) continue;
        if ((f & prefer) == prefer) return i;
        if (fallback == UINT32_MAX) fallback = i;
    }
    return fallback;
}

gpu_buffer context::make_buffer(uint64_t size, VkBufferUsageFlags usage, bool device_local) {
    gpu_buffer b;
    b.size = size;
    b.alloc_size = std::max<uint64_t>(16, (size + 15) / 16 * 16);
    VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bci.size = b.alloc_size;
    bci.usage = usage;
    bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    check(dev_fns_.vkCreateBuffer(device_, &bci, nullptr, &b.buffer), "create buffer");
    try {
        VkMemoryRequirements req{};
        dev_fns_.vkGetBufferMemoryRequirements(device_, b.buffer, &req);
        const VkMemoryPropertyFlags host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
        uint32_t type = device_local ? find_memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0)
                                     : find_memory_type(req.memoryTypeBits, host, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
        if (type == UINT32_MAX && device_local) type = find_memory_type(req.memoryTypeBits, 0, 0);
        if (type == UINT32_MAX) raise(MNEME_ERROR_OUT_OF_DEVICE_MEMORY, "no suitable Vulkan memory type");
        b.memory = memory_->allocate(req, type);
        check(dev_fns_.vkBindBufferMemory(device_, b.buffer, b.memory.memory, b.memory.offset), "bind buffer memory");
        b.mapped = b.memory.mapped;
    } catch (...) {
        destroy_buffer(b);
        throw;
    }
    return b;
}

gpu_buffer context::create_buffer(uint64_t size) {
    gpu_buffer b = make_buffer(
        size, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        true);
    // Defined contents: fresh memory may hold anything, and a stray NaN must not leak into results.
    if (b.mapped) {
        std::memset(b.mapped, 0, b.alloc_size);
    } else {
        try {
            // No recorded work can reference a new buffer, so the fill need not wait for the queues.
            VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
            bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
            check(dev_fns_.vkBeginCommandBuffer(transfer_cmd_, &bi), "begin command buffer");
            dev_fns_.vkCmdFillBuffer(transfer_cmd_, b.buffer, 0, VK_WHOLE_SIZE, 0);
            VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
            mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
            mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                               VK_ACCESS_TRANSFER_WRITE_BIT;
            dev_fns_.vkCmdPipelineBarrier(transfer_cmd_, VK_PIPELINE_STAGE_TRANSFER_BIT,
                                          VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1,
                                          &mb, 0, nullptr, 0, nullptr);
            check(dev_fns_.vkEndCommandBuffer(transfer_cmd_), "end command buffer");
            submit_and_wait(transfer_cmd_, transfer_fence_, "clear buffer");
        } catch (...) {
            destroy_buffer(b);
            throw;
        }
    }
    return b;
}

gpu_buffer context::create_host_buffer(uint64_t size, VkBufferUsageFlags usage) {
    gpu_buffer b = make_buffer(size, usage, false);
    if (!b.mapped) {
        destroy_buffer(b);
        raise(MNEME_ERROR_OUT_OF_DEVICE_MEMORY, "no host-visible coherent Vulkan memory");
    }
    return b;
}

void context::destroy_buffer(gpu_buffer& b) {
    if (b.buffer) dev_fns_.vkDestroyBuffer(device_, b.buffer, nullptr);
    if (memory_) memory_->release(b.memory);
    b = gpu_buffer{};
}

void context::submit_and_wait(VkCommandBuffer cmd, VkFence fence, const char* what) {
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cmd;
    check(dev_fns_.vkQueueSubmit(queue_, 1, &si, fence), what);
    const VkResult r = dev_fns_.vkWaitForFences(device_, 1, &fence, VK_TRUE, timeout_ns_);
    if (r == VK_TIMEOUT) {
        // The work may still be running: nothing recorded on this device can be trusted any more.
        lost_ = true;
        raise(MNEME_ERROR_DEVICE_LOST, what, ": the Vulkan device did not finish within ", timeout_ns_ / 1000000000ull,
              " s (MNEME_VULKAN_TIMEOUT_S); treating it as hung");
    }
    check(r, what);
    check(dev_fns_.vkResetFences(device_, 1, &fence), "reset fence");
}

void context::check(VkResult r, const char* what) {
    if (r == VK_SUCCESS) return;
    switch (r) {
        case VK_ERROR_DEVICE_LOST:
            lost_ = true;
            raise(MNEME_ERROR_DEVICE_LOST, what, ": the Vulkan device was lost");
        case VK_ERROR_OUT_OF_DEVICE_MEMORY:
            raise(MNEME_ERROR_OUT_OF_DEVICE_MEMORY, what, ": out of device memory");
        case VK_ERROR_OUT_OF_HOST_MEMORY:
            raise(MNEME_ERROR_OUT_OF_MEMORY, what, ": out of host memory");
        default:
            raise(MNEME_ERROR_INTERNAL, what, ": ", result_text(r));
    }
}

void context::check_health() {
    if (lost_) raise(MNEME_ERROR_DEVICE_LOST, "the Vulkan device was lost or hung earlier");
    std::vector<std::string> msgs;
    {
        std::lock_guard<std::mutex> lock(validation_mutex_);
        msgs.swap(validation_);
    }
    if (!msgs.empty()) {
        std::string all = msgs.front();
        if (msgs.size() > 1) all += " (and " + std::to_string(msgs.size() - 1) + " more)";
        raise(MNEME_ERROR_INTERNAL, "Vulkan ", all);
    }
}

void context::on_validation(const std::string& msg) {
    if (host_ && host_->log) host_->log(host_->host, MNEME_LOG_LEVEL_ERROR, ("vulkan: " + msg).c_str());
    std::lock_guard<std::mutex> lock(validation_mutex_);
    validation_.push_back(msg);
}

void context::remove_recorder(recorder* r) {
    recorders_.erase(std::remove(recorders_.begin(), recorders_.end(), r), recorders_.end());
}

void context::flush_all() {
    for (recorder* r : recorders_) r->flush();
}

void context::upload(const gpu_buffer& b, uint64_t offset, const void* src, uint64_t size) {
    flush_all();
    if (b.mapped) {
        std::memcpy(b.mapped + offset, src, size);  // coherent: visible to the next submission
        return;
    }
    transfer(b, offset, size, const_cast<void*>(src), true);
}

void context::download(const gpu_buffer& b, uint64_t offset, void* dst, uint64_t size) {
    flush_all();  // the recorders end with a barrier that makes shader writes visible to the host
    if (b.mapped) {
        std::memcpy(dst, b.mapped + offset, size);
        return;
    }
    transfer(b, offset, size, dst, false);
}

void context::transfer(const gpu_buffer& b, uint64_t offset, uint64_t size, void* host, bool to_device) {
    if (!staging_.buffer) {
        staging_ =
            create_host_buffer(k_staging_bytes, VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT);
    }
    auto* bytes = static_cast<uint8_t*>(host);
    for (uint64_t done = 0; done < size;) {
        const uint64_t n = std::min(size - done, k_staging_bytes);
        if (to_device) std::memcpy(staging_.mapped, bytes + done, n);
        VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
        bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
        check(dev_fns_.vkBeginCommandBuffer(transfer_cmd_, &bi), "begin command buffer");
        VkBufferCopy region{};
        region.size = n;
        VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
        mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
        if (to_device) {
            region.dstOffset = offset + done;
            dev_fns_.vkCmdCopyBuffer(transfer_cmd_, staging_.buffer, b.buffer, 1, &region);
            mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT;
            dev_fns_.vkCmdPipelineBarrier(transfer_cmd_, VK_PIPELINE_STAGE_TRANSFER_BIT,
                                          VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1,
                                          &mb, 0, nullptr, 0, nullptr);
        } else {
            region.srcOffset = offset + done;
            dev_fns_.vkCmdCopyBuffer(transfer_cmd_, b.buffer, staging_.buffer, 1, &region);
            mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
            dev_fns_.vkCmdPipelineBarrier(transfer_cmd_, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0,
                                          1, &mb, 0, nullptr, 0, nullptr);
        }
        check(dev_fns_.vkEndCommandBuffer(transfer_cmd_), "end command buffer");
        submit_and_wait(transfer_cmd_, transfer_fence_, to_device ? "upload" : "download");
        if (!to_device) std::memcpy(bytes + done, staging_.mapped, n);
        done += n;
    }
}

}  // namespace mneme::vk
