#include "sdk-fixture.h"

#include <fstream>
#include <mutex>

namespace mneme::crash {
namespace {

void collect(void* user, mneme_log_level level, const char*, const char* message) {
    if (level < MNEME_LOG_LEVEL_WARN) return;
    static std::mutex m;
    std::lock_guard lock(m);
    static_cast<std::vector<std::string>*>(user)->push_back(message);
}

}  // namespace

std::string golden_dir(const std::string& name) {
    return std::string(MNEME_GOLDEN_DIR) + "/" + name;
}

std::vector<int32_t> read_tokens(const std::string& fixture_dir) {
    std::ifstream f(fixture_dir + "/tokens.txt");
    std::vector<int32_t> out;
    std::string item;
    while (std::getline(f, item, ',')) out.push_back(static_cast<int32_t>(std::stol(item)));
    return out;
}

std::string last_error() {
    const char* m = mneme_last_error_message();
    return m ? m : "";
}

c_model::c_model(const std::string& dir, const std::string& engram_store) {
    mneme_runtime_desc rd = MNEME_RUNTIME_DESC_INIT;
    rd.n_threads = 1;
    rd.log_fn = collect;
    rd.log_user_data = &warnings_;
    rd.log_level = MNEME_LOG_LEVEL_WARN;
    if (mneme_runtime_create(&rd, &rt_) != MNEME_OK) {
        error_ = "runtime: " + last_error();
        return;
    }
    mneme_model_desc md = MNEME_MODEL_DESC_INIT;
    md.precision = MNEME_PRECISION_F64;
    if (!engram_store.empty()) md.engram_store_path = engram_store.c_str();
    if (mneme_model_open(rt_, dir.c_str(), &md, &model_) != MNEME_OK) {
        model_ = nullptr;
        error_ = last_error();
    }
}

c_model::~c_model() {
    mneme_model_destroy(model_);
    mneme_runtime_destroy(rt_);
}

c_session::c_session(const c_model& m, uint32_t n_ctx, const std::string& snapshot_dir) {
    mneme_session_desc sd = MNEME_SESSION_DESC_INIT;
    sd.n_ctx = n_ctx;
    if (!snapshot_dir.empty()) sd.snapshot_dir = snapshot_dir.c_str();
    if (!m.ok() || mneme_session_create(m.get(), &sd, &s_) != MNEME_OK) s_ = nullptr;
}

c_session::~c_session() {
    mneme_session_destroy(s_);
}

bool c_session::feed(const int32_t* tokens, std::size_t n, bool snapshot) {
    mneme_feed_desc fd = MNEME_FEED_DESC_INIT;
    if (snapshot) fd.flags = MNEME_FEED_SNAPSHOT;
    return s_ && mneme_session_feed_tokens(s_, tokens, n, &fd) == MNEME_OK;
}

mneme_feed_stats c_session::last_stats() const {
    mneme_feed_stats st{};
    st.struct_size = sizeof(st);
    if (s_) (void)mneme_session_last_feed_stats(s_, &st);
    return st;
}

std::vector<double> c_session::last_logits() const {
    const double* l = nullptr;
    std::size_t rows = 0, vocab = 0;
    if (!s_ || mneme_session_get_logits_f64(s_, &l, &rows, &vocab) != MNEME_OK || rows == 0) return {};
    return std::vector<double>(l + (rows - 1) * vocab, l + rows * vocab);
}

uint64_t c_session::token_count() const {
    uint64_t n = 0;
    if (s_) (void)mneme_session_token_count(s_, &n);
    return n;
}

}  // namespace mneme::crash
