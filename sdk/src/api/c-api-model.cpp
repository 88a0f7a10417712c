// Model and tokenizer entry points of the C API.
#include <mneme/mneme.h>

#include "api/struct-copy.h"
#include "core/runtime.h"

using namespace mneme;

extern "C" {

MNEME_API mneme_status MNEME_CALL mneme_model_open(mneme_runtime* runtime, const char* path,
                                                   const mneme_model_desc* desc, mneme_model** out) noexcept {
    if (out) *out = nullptr;
    return api_call([&] {
        require(runtime && path && out, "mneme_model_open: NULL argument");
        mneme_model_desc d = MNEME_MODEL_DESC_INIT;
        read_versioned(desc, d, "mneme_model_desc");
        fail(MNEME_ERROR_UNSUPPORTED, "this build cannot load models yet: ", path);
        return MNEME_OK;
    });
}

MNEME_API void MNEME_CALL mneme_model_destroy(mneme_model*) noexcept {}

MNEME_API mneme_status MNEME_CALL mneme_model_get_info(const mneme_model* model, mneme_model_info* out) noexcept {
    return api_call([&] {
        require(model && out, "mneme_model_get_info: NULL argument");
        return MNEME_ERROR_UNSUPPORTED;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_model_plan(const mneme_model* model, uint64_t, mneme_memory_plan* out) noexcept {
    return api_call([&] {
        require(model && out, "mneme_model_plan: NULL argument");
        return MNEME_ERROR_UNSUPPORTED;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_tokenize(const mneme_model* model, const char* text, size_t, uint32_t, int32_t*,
                                                 size_t, size_t* out_count) noexcept {
    return api_call([&] {
        require(model && text && out_count, "mneme_tokenize: NULL argument");
        return MNEME_ERROR_UNSUPPORTED;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_detokenize(const mneme_model* model, const int32_t*, size_t, uint32_t, char*,
                                                   size_t, size_t* out_len) noexcept {
    return api_call([&] {
        require(model && out_len, "mneme_detokenize: NULL argument");
        return MNEME_ERROR_UNSUPPORTED;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_chat_render(const mneme_model* model, const mneme_chat_message*, size_t,
                                                    mneme_bool, char*, size_t, size_t* out_len) noexcept {
    return api_call([&] {
        require(model && out_len, "mneme_chat_render: NULL argument");
        return MNEME_ERROR_UNSUPPORTED;
    });
}

}  // extern "C"
