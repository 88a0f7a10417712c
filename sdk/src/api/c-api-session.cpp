// Session entry points of the C API.
#include <mneme/mneme.h>

#include "api/struct-copy.h"

using namespace mneme;

extern "C" {

MNEME_API mneme_status MNEME_CALL mneme_session_create(mneme_model* model, const mneme_session_desc*,
                                                       mneme_session** out) noexcept {
    if (out) *out = nullptr;
    return api_call([&] {
        require(model && out, "mneme_session_create: NULL argument");
        return MNEME_ERROR_UNSUPPORTED;
    });
}

MNEME_API void MNEME_CALL mneme_session_destroy(mneme_session*) noexcept {}

MNEME_API mneme_status MNEME_CALL mneme_session_set_sampling(mneme_session* s, const mneme_sampling_params*) noexcept {
    return api_call([&] {
        require(s, "NULL session");
        return MNEME_ERROR_UNSUPPORTED;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_session_feed_tokens(mneme_session* s, const int32_t*, size_t,
                                                            const mneme_feed_desc*) noexcept {
    return api_call([&] {
        require(s, "NULL session");
        return MNEME_ERROR_UNSUPPORTED;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_session_feed_text(mneme_session* s, const char*, size_t,
                                                          const mneme_feed_desc*) noexcept {
    return api_call([&] {
        require(s, "NULL session");
        return MNEME_ERROR_UNSUPPORTED;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_session_get_logits(const mneme_session* s, const float**, size_t*,
                                                           size_t*) noexcept {
    return api_call([&] {
        require(s, "NULL session");
        return MNEME_ERROR_UNSUPPORTED;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_session_generate(mneme_session* s, const mneme_generate_desc*,
                                                         mneme_generate_result*) noexcept {
    return api_call([&] {
        require(s, "NULL session");
        return MNEME_ERROR_UNSUPPORTED;
    });
}

MNEME_API void MNEME_CALL mneme_session_cancel(mneme_session*) noexcept {}

MNEME_API mneme_status MNEME_CALL mneme_session_token_count(const mneme_session* s, uint64_t*) noexcept {
    return api_call([&] {
        require(s, "NULL session");
        return MNEME_ERROR_UNSUPPORTED;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_session_reset(mneme_session* s) noexcept {
    return api_call([&] {
        require(s, "NULL session");
        return MNEME_ERROR_UNSUPPORTED;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_session_save_state(const mneme_session* s, const char*) noexcept {
    return api_call([&] {
        require(s, "NULL session");
        return MNEME_ERROR_UNSUPPORTED;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_session_load_state(mneme_session* s, const char*) noexcept {
    return api_call([&] {
        require(s, "NULL session");
        return MNEME_ERROR_UNSUPPORTED;
    });
}

}  // extern "C"
