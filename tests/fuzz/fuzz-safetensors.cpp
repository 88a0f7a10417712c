// libFuzzer target: the safetensors header parser (every byte of a downloaded checkpoint's header
// is attacker-controlled). Any outcome but mneme::error is a finding.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        (void)mneme::parse_safetensors_header(data, size, "fuzz.safetensors");
    } catch (const mneme::error&) {
    }
    return 0;
}
