// Model and tokenizer entry points of the C API.
#include <mneme/mneme.h>

#include <chrono>
#include <cstring>

#include "api/struct-copy.h"
#include "core/runtime.h"
#include "engram/import.h"
#include "session/model.h"

using namespace mneme;

namespace {

const tokenizer& require_tokenizer(const mneme_model* m) {
    if (!m->tok()) fail(MNEME_ERROR_UNSUPPORTED, "this model has no tokenizer.json");
    return *m->tok();
}

// Copies bytes into a caller buffer with the INCOMPLETE convention; NUL-terminates when room remains.
mneme_status write_text(const std::string& s, char* buf, size_t buf_size, size_t* out_len) {
    *out_len = s.size();
    if (!buf || buf_size < s.size()) return MNEME_INCOMPLETE;
    std::memcpy(buf, s.data(), s.size());
    if (buf_size > s.size()) buf[s.size()] = '\0';
    return MNEME_OK;
}

}  // namespace

extern "C" {

MNEME_API mneme_status MNEME_CALL mneme_model_open(mneme_runtime* runtime, const char* path,
                                                   const mneme_model_desc* desc, mneme_model** out) noexcept {
    if (out) *out = nullptr;
    return api_call([&] {
        require(runtime && path && out, "mneme_model_open: NULL argument");
        mneme_model_desc d = MNEME_MODEL_DESC_INIT;
        read_versioned(desc, d, "mneme_model_desc");
        *out = new mneme_model(*runtime, path, d);
        return MNEME_OK;
    });
}

MNEME_API void MNEME_CALL mneme_model_destroy(mneme_model* model) noexcept { delete model; }

MNEME_API mneme_status MNEME_CALL mneme_model_get_info(const mneme_model* model, mneme_model_info* out) noexcept {
    return api_call([&] {
        require(model && out, "mneme_model_get_info: NULL argument");
        write_versioned(out, model->info(), "mneme_model_info");
        return MNEME_OK;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_model_plan(const mneme_model* model, uint64_t context_tokens,
                                                   mneme_memory_plan* out) noexcept {
    return api_call([&] {
        require(model && out, "mneme_model_plan: NULL argument");
        write_versioned(out, model->plan(context_tokens), "mneme_memory_plan");
        return MNEME_OK;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_model_engram_stats(const mneme_model* model, mneme_engram_stats* out) noexcept {
    return api_call([&] {
        require(model && out, "mneme_model_engram_stats: NULL argument");
        write_versioned(out, model->engram_stats(), "mneme_engram_stats");
        return MNEME_OK;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_model_engram_profile(mneme_model* model, const int32_t* tokens,
                                                             size_t n_tokens, uint64_t* out_distinct_rows) noexcept {
    return api_call([&] {
        require(model && (tokens || n_tokens == 0), "mneme_model_engram_profile: NULL argument");
        const profile_result r = model->engram_profile(std::span<const int32_t>(tokens, n_tokens));
        if (out_distinct_rows) *out_distinct_rows = r.distinct_rows;
        return MNEME_OK;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_engram_import(mneme_runtime* runtime, const char* model_dir,
                                                      const char* store_dir, mneme_progress_fn progress_fn,
                                                      void* progress_user_data) noexcept {
    return api_call([&] {
        require(runtime && model_dir && store_dir, "mneme_engram_import: NULL argument");
        const auto t0 = std::chrono::steady_clock::now();
        const bool finished = import_engram_checkpoint(model_dir, store_dir, [&](uint64_t done, uint64_t total) {
            if (!progress_fn) return true;
            mneme_progress p{};
            p.struct_size = sizeof(p);
            p.stage = MNEME_PROGRESS_STAGE_ENGRAM_IMPORT;
            p.done = done;
            p.total = total;
            p.elapsed_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            p.rate_per_second = p.elapsed_seconds > 0 ? static_cast<double>(done) / p.elapsed_seconds : 0.0;
            p.eta_seconds = p.rate_per_second > 0 ? static_cast<double>(total - done) / p.rate_per_second : -1.0;
            return progress_fn(progress_user_data, &p) != MNEME_FALSE;
        });
        return finished ? MNEME_OK : MNEME_CANCELLED;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_tokenize(const mneme_model* model, const char* text, size_t text_len,
                                                 uint32_t flags, int32_t* tokens, size_t capacity,
                                                 size_t* out_count) noexcept {
    return api_call([&] {
        require(model && (text || text_len == 0) && out_count, "mneme_tokenize: NULL argument");
        const tokenizer& tok = require_tokenizer(model);
        std::vector<int32_t> ids;
        if ((flags & MNEME_TOKENIZE_ADD_BOS) && tok.bos_id() >= 0) ids.push_back(tok.bos_id());
        const auto body = tok.encode(std::string_view(text ? text : "", text_len), (flags & MNEME_TOKENIZE_PARSE_SPECIAL) != 0);
        ids.insert(ids.end(), body.begin(), body.end());
        *out_count = ids.size();
        if (!tokens || capacity < ids.size()) return MNEME_INCOMPLETE;
        std::memcpy(tokens, ids.data(), ids.size() * sizeof(int32_t));
        return MNEME_OK;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_detokenize(const mneme_model* model, const int32_t* tokens, size_t n_tokens,
                                                   uint32_t flags, char* buf, size_t buf_size,
                                                   size_t* out_len) noexcept {
    return api_call([&] {
        require(model && (tokens || n_tokens == 0) && out_len, "mneme_detokenize: NULL argument");
        const tokenizer& tok = require_tokenizer(model);
        const std::string s = tok.decode(std::span<const int32_t>(tokens, n_tokens), (flags & MNEME_DETOKENIZE_RENDER_SPECIAL) != 0);
        return write_text(s, buf, buf_size, out_len);
    });
}

MNEME_API mneme_status MNEME_CALL mneme_chat_render(const mneme_model* model, const mneme_chat_message* messages,
                                                    size_t n_messages, mneme_bool add_generation_prompt, char* buf,
                                                    size_t buf_size, size_t* out_len) noexcept {
    return api_call([&] {
        require(model && (messages || n_messages == 0) && out_len, "mneme_chat_render: NULL argument");
        std::vector<chat_message> msgs;
        for (size_t i = 0; i < n_messages; ++i) {
            require(messages[i].role && messages[i].content, "mneme_chat_render: message with NULL role or content");
            msgs.push_back(chat_message{messages[i].role, messages[i].content, {}});
        }
        chat_options opts;
        opts.add_generation_prompt = add_generation_prompt != MNEME_FALSE;
        return write_text(render_chat(msgs, model->chat(), opts), buf, buf_size, out_len);
    });
}

}  // extern "C"
