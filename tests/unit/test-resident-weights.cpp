// Weights copied into the CPU backend's own memory (MNEME_WEIGHTS=resident, the default when they
// fit) give the same logits, bit for bit, as weights used in place in the file mapping.
#include <mneme/mneme.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

std::vector<float> logits_with(const std::string& model_dir, const char* weights) {
    REQUIRE(::setenv("MNEME_WEIGHTS", weights, 1) == 0);
    mneme_runtime_desc rd = MNEME_RUNTIME_DESC_INIT;
    rd.n_threads = 2;
    rd.log_level = MNEME_LOG_LEVEL_OFF;
    mneme_runtime* rt = nullptr;
    REQUIRE(mneme_runtime_create(&rd, &rt) == MNEME_OK);
    mneme_model_desc md = MNEME_MODEL_DESC_INIT;
    md.backend = "cpu";
    mneme_model* model = nullptr;
    REQUIRE(mneme_model_open(rt, model_dir.c_str(), &md, &model) == MNEME_OK);
    ::unsetenv("MNEME_WEIGHTS");
    mneme_session_desc sd = MNEME_SESSION_DESC_INIT;
    sd.n_ctx = 64;
    mneme_session* s = nullptr;
    REQUIRE(mneme_session_create(model, &sd, &s) == MNEME_OK);
    const int32_t tokens[] = {3, 5, 7, 11, 13, 17, 19};
    mneme_feed_desc fd = MNEME_FEED_DESC_INIT;
    REQUIRE(mneme_session_feed_tokens(s, tokens, 7, &fd) == MNEME_OK);
    REQUIRE(mneme_session_feed_tokens(s, tokens + 2, 1, &fd) == MNEME_OK);  // a decoding step
    const float* logits = nullptr;
    size_t rows = 0, vocab = 0;
    REQUIRE(mneme_session_get_logits(s, &logits, &rows, &vocab) == MNEME_OK);
    std::vector<float> out(logits, logits + rows * vocab);
    mneme_session_destroy(s);
    mneme_model_destroy(model);
    mneme_runtime_destroy(rt);
    return out;
}

}  // namespace

TEST_CASE("resident weights give the logits of mapped ones, bit for bit", "[weights]") {
    for (const char* name : {"v3-tiny", "v32-tiny", "v4-tiny", "v3-tiny-sharded"}) {
        const std::string dir = std::string(MNEME_TEST_DATA_DIR) + "/golden/" + name;
        INFO(name);
        const std::vector<float> mapped = logits_with(dir, "mapped"), resident = logits_with(dir, "resident");
        REQUIRE(!mapped.empty());
        REQUIRE(mapped == resident);
    }
}
