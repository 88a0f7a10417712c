// Whole-model logits of the tiny golden checkpoints on the backend under test, through the public
// C API, in prefill, decode and chunked modes, against the float64 CPU path. Both run with the
// activation round trips off (FORMATS.md §6: with them on, float32 rounding flips FP8/FP4 codes and
// an exact comparison means nothing).
#include <mneme/mneme.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "model-harness.h"
#include "plugin-device.h"

namespace bt = mneme::backend_test;

namespace {

constexpr double k_tolerance = 5e-4;  // max |Δ| / max |logit|

// Warnings and errors logged by plugins (e.g. Vulkan validation messages).
struct log_capture {
    std::string category;
    std::mutex mutex;
    std::vector<std::string> lines;

    static void MNEME_CALL sink(void* self, mneme_log_level level, const char* category, const char* message) {
        auto* c = static_cast<log_capture*>(self);
        if (level < MNEME_LOG_LEVEL_WARN || !category || c->category != category) return;
        std::lock_guard<std::mutex> lock(c->mutex);
        c->lines.emplace_back(message ? message : "");
    }
};

class model_on {
  public:
    model_on(const std::string& dir, const char* backend, mneme_precision precision, log_capture* log) {
        mneme_runtime_desc rd = MNEME_RUNTIME_DESC_INIT;
        rd.n_threads = 2;
        if (log) {
            rd.log_fn = &log_capture::sink;
            rd.log_user_data = log;
            rd.log_level = MNEME_LOG_LEVEL_WARN;
        }
        REQUIRE(mneme_runtime_create(&rd, &rt_) == MNEME_OK);
        mneme_model_desc md = MNEME_MODEL_DESC_INIT;
        md.precision = precision;
        md.act_quant = MNEME_ACT_QUANT_OFF;
        md.backend = backend;
        const mneme_status st = mneme_model_open(rt_, dir.c_str(), &md, &model_);
        INFO(mneme_last_error_message());
        REQUIRE(st == MNEME_OK);
        mneme_model_info info{};
        info.struct_size = sizeof(info);
        REQUIRE(mneme_model_get_info(model_, &info) == MNEME_OK);
        REQUIRE(std::string(info.backend) == backend);  // really ran there, no silent fallback
    }
    ~model_on() {
        mneme_model_destroy(model_);
        mneme_runtime_destroy(rt_);
    }
    model_on(const model_on&) = delete;
    model_on& operator=(const model_on&) = delete;

    // Logits of every token, [tokens, vocab]; chunk 0 = one pass.
    std::vector<double> logits(const std::vector<int32_t>& tokens, std::size_t chunk) const {
        return mneme::test::session_logits(model_, tokens, chunk);
    }

  private:
    mneme_runtime* rt_ = nullptr;
    mneme_model* model_ = nullptr;
};

struct comparison {
    double rel_error = 0;
    std::size_t top1_agree = 0, rows = 0;
};

comparison compare(const std::vector<double>& got, const std::vector<double>& ref, std::size_t rows) {
    comparison c;
    c.rows = rows;
    c.rel_error = mneme::test::max_relative_error(got, ref);
    const std::size_t vocab = got.size() / rows;
    for (std::size_t r = 0; r < rows; ++r) {
        const auto a = got.begin() + static_cast<std::ptrdiff_t>(r * vocab),
                   b = ref.begin() + static_cast<std::ptrdiff_t>(r * vocab);
        const auto end = static_cast<std::ptrdiff_t>(vocab);
        if (std::max_element(a, a + end) - a == std::max_element(b, b + end) - b) ++c.top1_agree;
    }
    return c;
}

void check_model(const std::string& name) {
    const std::string& backend = bt::backend_under_test();
    const std::string dir = mneme::test::golden_dir(name);
    const auto tokens = mneme::test::read_tokens(dir);
    std::vector<double> want;
    {
        model_on ref(dir, "cpu", MNEME_PRECISION_F64, nullptr);
        want = ref.logits(tokens, 0);
    }
    log_capture log;
    log.category = "plugin";  // what plugins log through the host
    model_on m(dir, backend.c_str(), MNEME_PRECISION_F32, &log);
    for (std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{5}}) {
        const comparison c = compare(m.logits(tokens, chunk), want, tokens.size());
        const char* mode = chunk == 0 ? "prefill" : chunk == 1 ? "decode" : "chunked:5";
        std::printf("%s on %s, %s: max|Δ|/max|logit| = %.3g, top-1 agrees on %zu/%zu tokens\n", name.c_str(),
                    backend.c_str(), mode, c.rel_error, c.top1_agree, c.rows);
        INFO(name << " " << mode << " max relative error " << c.rel_error);
        CHECK(c.rel_error <= k_tolerance);
    }
    std::lock_guard<std::mutex> lock(log.mutex);
    for (const auto& line : log.lines) {
        INFO("logged by the backend: " << line);
        CHECK(false);
    }
}

}  // namespace

TEST_CASE("V3 logits match the float64 CPU path", "[model][v3]") {
    check_model("v3-tiny");
}
TEST_CASE("V3.2 logits match the float64 CPU path", "[model][v32]") {
    check_model("v32-tiny");
}
TEST_CASE("V4 logits match the float64 CPU path", "[model][v4]") {
    check_model("v4-tiny");
}
TEST_CASE("V4 + Engram logits match the float64 CPU path", "[model][v4e]") {
    check_model("v4e-tiny");
}
TEST_CASE("V4 + Engram with short convolution logits match the float64 CPU path", "[model][v4e-conv]") {
    check_model("v4e-conv-tiny");
}
