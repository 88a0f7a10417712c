// `mneme-cli logits`: the logits after every token, as a .npy [n_tokens, vocab], evaluated in one
// pass (prefill), one token at a time (decode) or in chunks of N (chunked:N).
#include <cstdio>
#include <memory>
#include <vector>

#include "cli-model.h"
#include "commands.h"

namespace mneme_cli {

int cmd_logits(const args& a) {
    auto known = model_option_names();
    for (const char* n : {"tokens", "out", "mode", "dtype"}) known.emplace_back(n);
    a.allow_only(known);
    const std::vector<int32_t> tokens = parse_token_list(a.require("tokens"));
    const std::string out = a.require("out");
    const std::string mode = a.get_or("mode", "prefill");
    size_t chunk = tokens.size();
    if (mode == "decode") {
        chunk = 1;
    } else if (mode.rfind("chunked:", 0) == 0) {
        const long long n = std::atoll(mode.c_str() + 8);
        if (n <= 0) throw usage_error{"--mode chunked:N needs N > 0"};
        chunk = static_cast<size_t>(n);
    } else if (mode != "prefill") {
        throw usage_error{"--mode must be prefill, decode or chunked:N"};
    }
    const std::string dtype = a.get_or("dtype", "f32");
    if (dtype != "f32" && dtype != "f64") throw usage_error{"--dtype must be f32 or f64"};

    opened_model opened = open_runtime_and_model(a);
    if (!opened) return 1;
    mneme_model* m = opened.model.get();

    mneme_session_desc sd = MNEME_SESSION_DESC_INIT;
    sd.n_ctx = static_cast<uint32_t>(tokens.size());
    mneme_session* s = nullptr;
    mneme_status st = mneme_session_create(m, &sd, &s);
    if (st != MNEME_OK) return report_failure("cannot create session", st);
    std::unique_ptr<mneme_session, void (*)(mneme_session*)> s_guard(s, mneme_session_destroy);

    std::vector<double> all;
    size_t vocab = 0;
    for (size_t done = 0; done < tokens.size(); done += chunk) {
        const size_t n = std::min(chunk, tokens.size() - done);
        mneme_feed_desc fd = MNEME_FEED_DESC_INIT;
        fd.logits = MNEME_LOGITS_ALL;
        fd.chunk_size = static_cast<uint32_t>(n);
        st = mneme_session_feed_tokens(s, tokens.data() + done, n, &fd);
        if (st != MNEME_OK) return report_failure("evaluation failed", st);
        const double* logits = nullptr;
        size_t rows = 0;
        st = mneme_session_get_logits_f64(s, &logits, &rows, &vocab);
        if (st != MNEME_OK || rows != n) return report_failure("reading logits", st);
        all.insert(all.end(), logits, logits + rows * vocab);
    }
    write_npy(out, all.data(), tokens.size(), vocab, dtype == "f64");
    std::fprintf(stderr, "wrote %s: %zu x %zu (%s, mode %s)\n", out.c_str(), tokens.size(), vocab, dtype.c_str(),
                 mode.c_str());
    return 0;
}

}  // namespace mneme_cli
