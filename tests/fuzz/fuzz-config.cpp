// libFuzzer target: config.json parsing and validation.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "model/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        (void)mneme::parse_model_config(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz/config.json");
    } catch (const mneme::error&) {
    }
    return 0;
}
