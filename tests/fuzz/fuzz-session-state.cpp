// libFuzzer target: restoring a session state / snapshot file (snapshots live on disk and may be
// corrupted or planted). Uses the tiny V3 golden model; any crash or non-error outcome other than a
// clean refusal or a valid restore is a finding.
#include <mneme/mneme.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace {

struct fixture {
    mneme_runtime* rt = nullptr;
    mneme_model* model = nullptr;
    mneme_session* session = nullptr;
    std::string path;
    fixture() {
        mneme_runtime_desc rd = MNEME_RUNTIME_DESC_INIT;
        rd.n_threads = 1;
        rd.log_level = MNEME_LOG_LEVEL_OFF;
        if (mneme_runtime_create(&rd, &rt) != MNEME_OK) return;
        if (mneme_model_open(rt, MNEME_FUZZ_MODEL_DIR, nullptr, &model) != MNEME_OK) return;
        mneme_session_desc sd = MNEME_SESSION_DESC_INIT;
        sd.n_ctx = 64;
        if (mneme_session_create(model, &sd, &session) != MNEME_OK) return;
        path = "/tmp/mneme-fuzz-state-" + std::to_string(::getpid()) + ".bin";
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static fixture f;
    if (!f.session) return 0;
    if (std::FILE* out = std::fopen(f.path.c_str(), "wb")) {
        std::fwrite(data, 1, size, out);
        std::fclose(out);
    }
    (void)mneme_session_load_state(f.session, f.path.c_str());
    (void)mneme_session_reset(f.session);
    return 0;
}
