// Version, status strings, errors and logging entry points of the C API.
#include <mneme/mneme.h>

#include <cstdlib>

#include "core/error.h"
#include "core/log.h"

#define MNEME_STR2(x) #x
#define MNEME_STR(x) MNEME_STR2(x)

extern "C" {

MNEME_API const char* MNEME_CALL mneme_status_string(mneme_status status) noexcept {
    switch (status) {
        case MNEME_OK: return "ok";
        case MNEME_INCOMPLETE: return "incomplete: output buffer too small";
        case MNEME_CANCELLED: return "cancelled";
        case MNEME_END_OF_STREAM: return "end of stream";
        case MNEME_ERROR_INVALID_ARGUMENT: return "invalid argument";
        case MNEME_ERROR_OUT_OF_MEMORY: return "out of memory";
        case MNEME_ERROR_OUT_OF_DEVICE_MEMORY: return "out of device memory";
        case MNEME_ERROR_FILE_NOT_FOUND: return "file not found";
        case MNEME_ERROR_INVALID_MODEL: return "invalid model file";
        case MNEME_ERROR_UNSUPPORTED: return "unsupported";
        case MNEME_ERROR_NO_BACKEND: return "no usable backend";
        case MNEME_ERROR_DEVICE_LOST: return "device lost";
        case MNEME_ERROR_ABI_MISMATCH: return "ABI version mismatch";
        case MNEME_ERROR_BUSY: return "busy";
        case MNEME_ERROR_INTERNAL: return "internal error";
        case MNEME_ERROR_IO: return "input/output error";
        case MNEME_ERROR_BUDGET_EXCEEDED: return "memory budget exceeded";
        case MNEME_ERROR_CONTEXT_FULL: return "context full";
        case MNEME_ERROR_UNSUPPORTED_EXTENSION: return "unsupported extension struct";
        default: return status < 0 ? "unknown error" : "unknown status";
    }
}

MNEME_API const char* MNEME_CALL mneme_last_error_message(void) noexcept { return mneme::last_error(); }

MNEME_API uint32_t MNEME_CALL mneme_version(void) noexcept { return MNEME_VERSION; }

MNEME_API const char* MNEME_CALL mneme_version_string(void) noexcept {
    return MNEME_STR(MNEME_VERSION_MAJOR) "." MNEME_STR(MNEME_VERSION_MINOR) "." MNEME_STR(MNEME_VERSION_PATCH);
}

MNEME_API void MNEME_CALL mneme_free(void* ptr) noexcept { std::free(ptr); }

MNEME_API void MNEME_CALL mneme_log_set(mneme_log_fn fn, void* user_data, mneme_log_level min_level) noexcept {
    mneme::set_global_log_sink(mneme::log_sink{fn, user_data, min_level});
}

}  // extern "C"
