#include "model-harness.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <sstream>

namespace mneme::test {

std::string golden_dir(const std::string& name) { return std::string(MNEME_GOLDEN_DIR) + "/" + name; }

std::vector<int32_t> read_tokens(const std::string& fixture_dir) {
    std::ifstream f(fixture_dir + "/tokens.txt");
    REQUIRE(f.good());
    std::vector<int32_t> out;
    std::string item;
    while (std::getline(f, item, ',')) out.push_back(static_cast<int32_t>(std::stol(item)));
    return out;
}

loaded_model::loaded_model(const std::string& dir, open_options opts, const engram_store_options& engram) {
    mneme_runtime_desc rd = MNEME_RUNTIME_DESC_INIT;
    rd.n_threads = 2;
    REQUIRE(mneme_runtime_create(&rd, &rt_) == MNEME_OK);
    mneme_model_desc md = MNEME_MODEL_DESC_INIT;
    md.precision = opts.precision;
    md.act_quant = opts.act_quant;
    if (!engram.store.empty()) md.engram_store_path = engram.store.c_str();
    md.engram_cache_bytes = engram.cache_bytes;
    const mneme_status st = mneme_model_open(rt_, dir.c_str(), &md, &model_);
    INFO(mneme_last_error_message());
    REQUIRE(st == MNEME_OK);
}

loaded_model::~loaded_model() {
    mneme_model_destroy(model_);
    mneme_runtime_destroy(rt_);
}

std::vector<double> loaded_model::logits(const std::vector<int32_t>& tokens, std::size_t chunk) const {
    return session_logits(model_, tokens, chunk);
}

std::vector<double> session_logits(mneme_model* model, const std::vector<int32_t>& tokens, std::size_t chunk) {
    mneme_session_desc sd = MNEME_SESSION_DESC_INIT;
    sd.n_ctx = static_cast<uint32_t>(tokens.size());
    mneme_session* s = nullptr;
    REQUIRE(mneme_session_create(model, &sd, &s) == MNEME_OK);
    if (chunk == 0) chunk = tokens.size();
    std::vector<double> out;
    for (std::size_t done = 0; done < tokens.size(); done += chunk) {
        const std::size_t n = std::min(chunk, tokens.size() - done);
        mneme_feed_desc fd = MNEME_FEED_DESC_INIT;
        fd.logits = MNEME_LOGITS_ALL;
        fd.chunk_size = static_cast<uint32_t>(n);
        const mneme_status st = mneme_session_feed_tokens(s, tokens.data() + done, n, &fd);
        INFO(mneme_last_error_message());
        REQUIRE(st == MNEME_OK);
        const double* l = nullptr;
        std::size_t rows = 0, vocab = 0;
        REQUIRE(mneme_session_get_logits_f64(s, &l, &rows, &vocab) == MNEME_OK);
        REQUIRE(rows == n);
        out.insert(out.end(), l, l + rows * vocab);
    }
    mneme_session_destroy(s);
    return out;
}

double max_relative_error(const std::vector<double>& got, const std::vector<double>& ref) {
    REQUIRE(got.size() == ref.size());
    double diff = 0, scale = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        diff = std::max(diff, std::fabs(got[i] - ref[i]));
        scale = std::max(scale, std::fabs(ref[i]));
    }
    return diff / scale;
}

}  // namespace mneme::test
