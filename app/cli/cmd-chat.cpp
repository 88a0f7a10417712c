// `mneme-cli chat`: a terminal chat about a codebase. The codebase is ingested (with .gitignore
// honoured), rendered once as the system turn and prefilled with snapshots, so a second chat over
// the same code starts in seconds. Ctrl-C stops the current answer or prefill, not the program.
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli-model.h"
#include "commands.h"

namespace mneme_cli {
namespace {

mneme_session* volatile g_active = nullptr;

void on_sigint(int) {
    if (mneme_session* s = g_active) mneme_session_cancel(s);
}

struct chat_ui {
    bool interactive = false;
};

mneme_bool MNEME_CALL on_progress(void* user, const mneme_progress* p) {
    (void)user;
    // Redraw a bar on a terminal; in a log, one line when the prefill ends.
    if (!::isatty(2)) {
        if (p->done == p->total) {
            std::fprintf(stderr, "  prefill: %llu tokens, %.0f tok/s\n", static_cast<unsigned long long>(p->total),
                         p->rate_per_second);
        }
        return MNEME_TRUE;
    }
    const int width = 30;
    const double frac = p->total ? static_cast<double>(p->done) / static_cast<double>(p->total) : 0.0;
    const int filled = static_cast<int>(frac * width);
    std::fprintf(stderr, "\r  prefill [%.*s%*s] %llu/%llu tokens, %.0f tok/s, ETA %.0fs   ", filled,
                 "##############################", width - filled, "", static_cast<unsigned long long>(p->done),
                 static_cast<unsigned long long>(p->total), p->rate_per_second, p->eta_seconds > 0 ? p->eta_seconds : 0.0);
    std::fflush(stderr);
    return MNEME_TRUE;
}

struct answer {
    std::string text;
    std::vector<int32_t> ids;
};

mneme_bool MNEME_CALL on_token(void* user, const mneme_token_event* ev) {
    auto* a = static_cast<answer*>(user);
    a->ids.push_back(ev->token);
    if (ev->text_len) {
        a->text.append(ev->text, ev->text_len);
        std::fwrite(ev->text, 1, ev->text_len, stdout);
    }
    std::fflush(stdout);
    return MNEME_TRUE;
}

std::string render_chat(mneme_model* m, const std::vector<mneme_chat_message>& msgs, bool gen_prompt) {
    size_t len = 0;
    mneme_status st = mneme_chat_render(m, msgs.data(), msgs.size(), gen_prompt ? MNEME_TRUE : MNEME_FALSE, nullptr, 0, &len);
    if (st < 0) throw std::runtime_error(std::string("chat format: ") + mneme_last_error_message());
    std::string out(len, '\0');
    st = mneme_chat_render(m, msgs.data(), msgs.size(), gen_prompt ? MNEME_TRUE : MNEME_FALSE, out.data(), out.size(), &len);
    if (st != MNEME_OK) throw std::runtime_error(std::string("chat format: ") + mneme_last_error_message());
    return out;
}

std::vector<int32_t> tokenize(mneme_model* m, const std::string& text) {
    size_t n = 0;
    mneme_status st = mneme_tokenize(m, text.data(), text.size(), MNEME_TOKENIZE_PARSE_SPECIAL, nullptr, 0, &n);
    if (st < 0) throw std::runtime_error(std::string("tokenize: ") + mneme_last_error_message());
    std::vector<int32_t> ids(n);
    st = mneme_tokenize(m, text.data(), text.size(), MNEME_TOKENIZE_PARSE_SPECIAL, ids.data(), ids.size(), &n);
    if (st != MNEME_OK) throw std::runtime_error(std::string("tokenize: ") + mneme_last_error_message());
    return ids;
}

std::string load_codebase(mneme_model* m, const std::string& root, uint64_t& tokens, size_t& files) {
    mneme_codebase* cb = nullptr;
    mneme_status st = mneme_codebase_scan(m, root.c_str(), nullptr, &cb);
    if (st != MNEME_OK) throw std::runtime_error("cannot read " + root + ": " + mneme_last_error_message());
    std::unique_ptr<mneme_codebase, void (*)(mneme_codebase*)> guard(cb, mneme_codebase_destroy);
    size_t n = 0, included = 0;
    (void)mneme_codebase_file_count(cb, &n);
    for (size_t i = 0; i < n; ++i) {
        mneme_codebase_file f{};
        f.struct_size = sizeof(f);
        if (mneme_codebase_get_file(cb, i, &f) == MNEME_OK && f.status == MNEME_FILE_STATUS_INCLUDED) ++included;
    }
    (void)mneme_codebase_token_count(cb, &tokens);
    size_t len = 0;
    (void)mneme_codebase_render(cb, nullptr, 0, &len);
    std::string text(len, '\0');
    if (mneme_codebase_render(cb, text.data(), text.size(), &len) != MNEME_OK) throw std::runtime_error("render failed");
    files = included;
    return text;
}

}  // namespace

int cmd_chat(const args& a) {
    auto known = model_option_names();
    for (const char* n : {"codebase", "snapshots", "max-tokens", "temp", "seed", "ctx", "ask"}) known.emplace_back(n);
    a.allow_only(known);

    opened_model opened = open_runtime_and_model(a);
    if (!opened) return 1;
    mneme_model* m = opened.model.get();
    mneme_model_info info{};
    info.struct_size = sizeof(info);
    (void)mneme_model_get_info(m, &info);

    std::vector<std::string> texts;  // storage behind the message pointers
    texts.reserve(256);
    std::vector<mneme_chat_message> msgs;
    if (a.has("codebase")) {
        uint64_t cb_tokens = 0;
        size_t files = 0;
        const std::string root = *a.get("codebase");
        std::fprintf(stderr, "reading %s ...\n", root.c_str());
        texts.push_back("You answer questions about the following codebase.\n\n" + load_codebase(m, root, cb_tokens, files));
        std::fprintf(stderr, "  %zu files, about %llu tokens\n", files, static_cast<unsigned long long>(cb_tokens));
        msgs.push_back({"system", texts.back().c_str()});
    }

    const std::string snapshots = a.get_or("snapshots", "");
    mneme_sampling_params sp = MNEME_SAMPLING_PARAMS_INIT;
    sp.temperature = static_cast<float>(a.get_double("temp", 0.0));
    sp.seed = static_cast<uint64_t>(a.get_int("seed", 0));
    sp.repetition_penalty = 1.1f;
    mneme_session_desc sd = MNEME_SESSION_DESC_INIT;
    const uint32_t max_ctx = info.max_context;
    sd.n_ctx = static_cast<uint32_t>(a.get_int("ctx", max_ctx));
    // A codebase that cannot fit is refused with the numbers, never cut off (nor fed until it fails).
    if (!msgs.empty()) {
        const std::vector<int32_t> system_ids = tokenize(m, texts.back());
        if (system_ids.size() + 64 > sd.n_ctx) {
            std::fprintf(stderr,
                         "error: the codebase needs %zu tokens, the context holds %u (and an answer needs room): "
                         "choose a smaller folder or a model with a longer context\n",
                         system_ids.size(), sd.n_ctx);
            return 1;
        }
    }
    sd.sampling = &sp;
    if (!snapshots.empty()) sd.snapshot_dir = snapshots.c_str();
    mneme_session* s = nullptr;
    mneme_status st = mneme_session_create(m, &sd, &s);
    if (st != MNEME_OK) return report_failure("cannot create session", st);
    std::unique_ptr<mneme_session, void (*)(mneme_session*)> s_guard(s, mneme_session_destroy);
    g_active = s;
    std::signal(SIGINT, on_sigint);

    std::vector<int32_t> context;  // every token in the session, fed or generated
    auto feed_to = [&](const std::string& text, bool snapshot) -> mneme_status {
        const std::vector<int32_t> ids = tokenize(m, text);
        mneme_feed_desc fd = MNEME_FEED_DESC_INIT;
        fd.flags = !snapshots.empty() ? MNEME_FEED_SNAPSHOT : 0u;
        (void)snapshot;
        fd.progress_fn = on_progress;
        fd.chunk_size = 128;
        // Chat formats only append: feed just the new tokens, or start over if the history
        // diverged (an answer whose text tokenizes differently than it was generated).
        size_t have = context.size();
        if (ids.size() < have || !std::equal(context.begin(), context.end(), ids.begin())) {
            if (mneme_session_reset(s) != MNEME_OK) return MNEME_ERROR_INTERNAL;
            context.clear();
            have = 0;
        }
        const mneme_status r = mneme_session_feed_tokens(s, ids.data() + have, ids.size() - have, &fd);
        uint64_t now = 0;
        (void)mneme_session_token_count(s, &now);
        context.assign(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(now));
        if (::isatty(2)) std::fprintf(stderr, "\r%90s\r", "");
        mneme_feed_stats fs{};
        fs.struct_size = sizeof(fs);
        if (mneme_session_last_feed_stats(s, &fs) == MNEME_OK && fs.tokens_reused) {
            std::fprintf(stderr, "  reused %llu tokens from a saved snapshot\n", static_cast<unsigned long long>(fs.tokens_reused));
        }
        return r;
    };

    if (!msgs.empty()) {
        st = feed_to(render_chat(m, msgs, false), true);
        if (st == MNEME_CANCELLED) std::fprintf(stderr, "  prefill cancelled\n");
        else if (st != MNEME_OK) return report_failure("prefill", st);
    }

    const bool interactive = ::isatty(0) != 0;
    const uint32_t max_tokens = static_cast<uint32_t>(a.get_int("max-tokens", 256));
    std::vector<std::string> scripted;
    if (a.has("ask")) scripted.push_back(*a.get("ask"));
    if (interactive) std::fprintf(stderr, "Type a question (Ctrl-C stops an answer, Ctrl-D quits).\n");
    for (size_t turn = 0;; ++turn) {
        std::string q;
        if (!scripted.empty()) {
            if (turn >= scripted.size()) break;
            q = scripted[turn];
            std::printf("> %s\n", q.c_str());
        } else {
            if (interactive) std::fprintf(stderr, "> ");
            if (!std::getline(std::cin, q)) break;
            if (q.empty()) continue;
            if (q == "/quit") break;
        }
        texts.push_back(q);
        msgs.push_back({"user", texts.back().c_str()});
        st = feed_to(render_chat(m, msgs, true), false);
        if (st != MNEME_OK && st != MNEME_CANCELLED) return report_failure("prefill", st);
        answer ans;
        mneme_generate_desc gd = MNEME_GENERATE_DESC_INIT;
        gd.max_tokens = max_tokens;
        gd.token_fn = on_token;
        gd.token_user_data = &ans;
        mneme_generate_result r{};
        r.struct_size = sizeof(r);
        st = mneme_session_generate(s, &gd, &r);
        std::printf("\n");
        if (st < 0) return report_failure("generation", st);
        uint64_t used = 0;
        (void)mneme_session_token_count(s, &used);
        std::fprintf(stderr, "  [%llu tokens, %.1f tok/s%s | context %llu / %u]\n",
                     static_cast<unsigned long long>(r.n_tokens),
                     r.decode_seconds > 0 ? static_cast<double>(r.n_tokens) / r.decode_seconds : 0.0,
                     st == MNEME_CANCELLED ? ", stopped" : "", static_cast<unsigned long long>(used), sd.n_ctx);
        // The generated tokens are in the session (an end-of-sequence token is not); the answer
        // becomes the assistant turn the next question is rendered with.
        const size_t in_context = used - context.size();
        context.insert(context.end(), ans.ids.begin(), ans.ids.begin() + static_cast<std::ptrdiff_t>(std::min(in_context, ans.ids.size())));
        texts.push_back(ans.text);
        msgs.push_back({"assistant", texts.back().c_str()});
    }
    g_active = nullptr;
    return 0;
}

}  // namespace mneme_cli
