// Codebase ingestion entry points of the C API.
#include <mneme/mneme.h>

#include <cstring>

#include "api/struct-copy.h"
#include "codebase/codebase.h"
#include "session/model.h"

using namespace mneme;

struct mneme_codebase {
    std::unique_ptr<codebase> impl;
};

extern "C" {

MNEME_API mneme_status MNEME_CALL mneme_codebase_scan(const mneme_model* model, const char* root,
                                                      const mneme_codebase_desc* desc, mneme_codebase** out) noexcept {
    if (out) *out = nullptr;
    return api_call([&] {
        require(root && out, "mneme_codebase_scan: NULL argument");
        mneme_codebase_desc d = MNEME_CODEBASE_DESC_INIT;
        read_versioned(desc, d, "mneme_codebase_desc");
        codebase_options opts;
        if (d.max_file_bytes) opts.max_file_bytes = d.max_file_bytes;
        opts.gitignore = !(d.flags & MNEME_CODEBASE_NO_GITIGNORE);
        opts.hidden = (d.flags & MNEME_CODEBASE_INCLUDE_HIDDEN) != 0;
        bool cancelled = false;
        codebase::progress_fn progress;
        if (d.progress_fn) {
            progress = [&](uint64_t files) {
                mneme_progress p{};
                p.struct_size = sizeof(p);
                p.stage = MNEME_PROGRESS_STAGE_LOAD;
                p.done = files;
                p.eta_seconds = -1;
                const bool go = d.progress_fn(d.progress_user_data, &p) != MNEME_FALSE;
                cancelled = !go;
                return go;
            };
        }
        try {
            auto cb = codebase::scan(root, opts, model ? model->tok() : nullptr, progress);
            *out = new mneme_codebase{std::move(cb)};
        } catch (const error&) {
            if (cancelled) return MNEME_CANCELLED;
            throw;
        }
        return MNEME_OK;
    });
}

MNEME_API void MNEME_CALL mneme_codebase_destroy(mneme_codebase* cb) noexcept { delete cb; }

MNEME_API mneme_status MNEME_CALL mneme_codebase_file_count(const mneme_codebase* cb, size_t* out_count) noexcept {
    return api_call([&] {
        require(cb && out_count, "mneme_codebase_file_count: NULL argument");
        *out_count = cb->impl->files().size();
        return MNEME_OK;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_codebase_get_file(const mneme_codebase* cb, size_t index,
                                                          mneme_codebase_file* out) noexcept {
    return api_call([&] {
        require(cb && out, "mneme_codebase_get_file: NULL argument");
        const auto& files = cb->impl->files();
        if (index >= files.size()) fail(MNEME_ERROR_INVALID_ARGUMENT, "file index ", index, " out of range");
        const codebase_file& f = files[index];
        mneme_codebase_file info{};
        info.status = f.status;
        info.path = f.path.c_str();
        info.reason = f.reason.c_str();
        info.bytes = f.bytes;
        info.tokens = f.tokens;
        info.mtime_seconds = f.mtime_ns / 1000000000;
        write_versioned(out, info, "mneme_codebase_file");
        return MNEME_OK;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_codebase_get_file_span(const mneme_codebase* cb, size_t index,
                                                               mneme_codebase_span* out) noexcept {
    return api_call([&] {
        require(cb && out, "mneme_codebase_get_file_span: NULL argument");
        const codebase::span sp = cb->impl->file_span(index);
        mneme_codebase_span info{};
        info.included = sp.included ? MNEME_TRUE : MNEME_FALSE;
        info.byte_offset = sp.byte_offset;
        info.byte_length = sp.byte_length;
        info.token_offset = sp.token_offset;
        info.token_count = sp.token_count;
        write_versioned(out, info, "mneme_codebase_span");
        return MNEME_OK;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_codebase_set_included(mneme_codebase* cb, size_t index,
                                                              mneme_bool included) noexcept {
    return api_call([&] {
        require(cb, "mneme_codebase_set_included: NULL codebase");
        cb->impl->set_included(index, included != MNEME_FALSE);
        return MNEME_OK;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_codebase_token_count(const mneme_codebase* cb, uint64_t* out_tokens) noexcept {
    return api_call([&] {
        require(cb && out_tokens, "mneme_codebase_token_count: NULL argument");
        *out_tokens = cb->impl->included_tokens();
        return MNEME_OK;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_codebase_render(const mneme_codebase* cb, char* buf, size_t buf_size,
                                                        size_t* out_len) noexcept {
    return api_call([&] {
        require(cb && out_len, "mneme_codebase_render: NULL argument");
        const std::string s = cb->impl->render();
        *out_len = s.size();
        if (!buf || buf_size < s.size()) return MNEME_INCOMPLETE;
        std::memcpy(buf, s.data(), s.size());
        if (buf_size > s.size()) buf[s.size()] = '\0';
        return MNEME_OK;
    });
}

}  // extern "C"
