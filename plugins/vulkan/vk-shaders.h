// The compute shaders embedded in the plugin (kernels/vulkan/*.comp, compiled to SPIR-V at build
// time). One shader per op family; a few parameter words select the variant at run time.
#pragma once

#include <cstdint>
#include <span>

namespace mneme::vk {

enum class shader : uint32_t {
    matmul,
    rows,
    norm,
    rope,
    softmax,
    elementwise,
    topk,
    quant,
    hadamard,
    attention,
    indexer,
    add_rows,
    mhc,
    compress,
    engram,
    count
};

const char* shader_name(shader s);
// SPIR-V words of the shader, from the build's generated table.
std::span<const uint32_t> shader_code(shader s);

}  // namespace mneme::vk
