// libFuzzer target: tokenizer.json loading, then encoding and decoding with whatever loaded.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        auto tok = mneme::tokenizer::load_from_strings(text, {}, "fuzz/tokenizer.json");
        const auto ids = tok->encode("int main() { return 0; } // ünïcödé 漢字 <｜User｜>", true);
        (void)tok->decode(ids, true);
    } catch (const mneme::error&) {
    }
    return 0;
}
