// Session entry points of the C API.
#include <mneme/mneme.h>

#include "api/struct-copy.h"
#include "session/session.h"

using namespace mneme;

extern "C" {

MNEME_API mneme_status MNEME_CALL mneme_session_create(mneme_model* model, const mneme_session_desc* desc,
                                                       mneme_session** out) noexcept {
    if (out) *out = nullptr;
    return api_call([&] {
        require(model && out, "mneme_session_create: NULL argument");
        mneme_session_desc d = MNEME_SESSION_DESC_INIT;
        read_versioned(desc, d, "mneme_session_desc");
        mneme_sampling_params sp = MNEME_SAMPLING_PARAMS_INIT;
        read_versioned(d.sampling, sp, "mneme_sampling_params");
        d.sampling = &sp;
        *out = new mneme_session(*model, d);
        return MNEME_OK;
    });
}

MNEME_API void MNEME_CALL mneme_session_destroy(mneme_session* session) noexcept { delete session; }

MNEME_API mneme_status MNEME_CALL mneme_session_set_sampling(mneme_session* s,
                                                             const mneme_sampling_params* params) noexcept {
    return api_call([&] {
        require(s && params, "mneme_session_set_sampling: NULL argument");
        session::busy_guard busy(*s);
        mneme_sampling_params sp = MNEME_SAMPLING_PARAMS_INIT;
        read_versioned(params, sp, "mneme_sampling_params");
        s->set_sampling(sp);
        return MNEME_OK;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_session_feed_tokens(mneme_session* s, const int32_t* tokens, size_t n_tokens,
                                                            const mneme_feed_desc* desc) noexcept {
    return api_call([&] {
        require(s && (tokens || n_tokens == 0), "mneme_session_feed_tokens: NULL argument");
        session::busy_guard busy(*s);
        mneme_feed_desc d = MNEME_FEED_DESC_INIT;
        read_versioned(desc, d, "mneme_feed_desc");
        return s->feed(std::span<const int32_t>(tokens, n_tokens), d);
    });
}

MNEME_API mneme_status MNEME_CALL mneme_session_feed_text(mneme_session* s, const char* text, size_t text_len,
                                                          const mneme_feed_desc* desc) noexcept {
    return api_call([&] {
        require(s && (text || text_len == 0), "mneme_session_feed_text: NULL argument");
        session::busy_guard busy(*s);
        const tokenizer* tok = s->owner().tok();
        if (!tok) fail(MNEME_ERROR_UNSUPPORTED, "this model has no tokenizer.json");
        mneme_feed_desc d = MNEME_FEED_DESC_INIT;
        read_versioned(desc, d, "mneme_feed_desc");
        std::vector<int32_t> ids;
        if (s->token_count() == 0 && tok->add_bos() && tok->bos_id() >= 0) ids.push_back(tok->bos_id());
        const auto body = tok->encode(std::string_view(text ? text : "", text_len), true);
        ids.insert(ids.end(), body.begin(), body.end());
        return s->feed(ids, d);
    });
}

MNEME_API mneme_status MNEME_CALL mneme_session_get_logits(const mneme_session* s, const float** out_logits,
                                                           size_t* out_rows, size_t* out_vocab) noexcept {
    return api_call([&] {
        require(s && out_logits && out_rows && out_vocab, "mneme_session_get_logits: NULL argument");
        auto& self = const_cast<mneme_session&>(*s);
        *out_logits = self.logits().empty() ? nullptr : self.logits().data();
        *out_rows = self.logit_rows();
        *out_vocab = static_cast<size_t>(self.owner().config().vocab_size);
        return MNEME_OK;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_session_get_logits_f64(const mneme_session* s, const double** out_logits,
                                                               size_t* out_rows, size_t* out_vocab) noexcept {
    return api_call([&] {
        require(s && out_logits && out_rows && out_vocab, "mneme_session_get_logits_f64: NULL argument");
        auto& self = const_cast<mneme_session&>(*s);
        *out_logits = self.logits_f64().empty() ? nullptr : self.logits_f64().data();
        *out_rows = self.logit_rows();
        *out_vocab = static_cast<size_t>(self.owner().config().vocab_size);
        return MNEME_OK;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_session_last_feed_stats(const mneme_session* s, mneme_feed_stats* out) noexcept {
    return api_call([&] {
        require(s && out, "mneme_session_last_feed_stats: NULL argument");
        write_versioned(out, s->last_feed_stats(), "mneme_feed_stats");
        return MNEME_OK;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_session_generate(mneme_session* s, const mneme_generate_desc* desc,
                                                         mneme_generate_result* result) noexcept {
    return api_call([&] {
        require(s, "mneme_session_generate: NULL session");
        session::busy_guard busy(*s);
        mneme_generate_desc d = MNEME_GENERATE_DESC_INIT;
        read_versioned(desc, d, "mneme_generate_desc");
        mneme_generate_result r{};
        const mneme_status st = s->generate(d, r);
        if (result) write_versioned(result, r, "mneme_generate_result");
        return st;
    });
}

MNEME_API void MNEME_CALL mneme_session_cancel(mneme_session* s) noexcept {
    if (s) s->request_cancel();
}

MNEME_API mneme_status MNEME_CALL mneme_session_token_count(const mneme_session* s, uint64_t* out_count) noexcept {
    return api_call([&] {
        require(s && out_count, "mneme_session_token_count: NULL argument");
        *out_count = s->token_count();
        return MNEME_OK;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_session_reset(mneme_session* s) noexcept {
    return api_call([&] {
        require(s, "mneme_session_reset: NULL session");
        session::busy_guard busy(*s);
        s->reset();
        return MNEME_OK;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_session_save_state(const mneme_session* s, const char* path) noexcept {
    return api_call([&] {
        require(s && path, "mneme_session_save_state: NULL argument");
        auto& self = const_cast<mneme_session&>(*s);
        session::busy_guard busy(self);
        self.save(path);
        return MNEME_OK;
    });
}

MNEME_API mneme_status MNEME_CALL mneme_session_load_state(mneme_session* s, const char* path) noexcept {
    return api_call([&] {
        require(s && path, "mneme_session_load_state: NULL argument");
        session::busy_guard busy(*s);
        s->load(path);
        return MNEME_OK;
    });
}

}  // extern "C"
