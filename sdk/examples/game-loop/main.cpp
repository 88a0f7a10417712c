// A game-style host: a fixed-rate loop keeps "rendering" frames while the model generates on a
// worker thread. The loop only ever touches lock-free state and calls mneme_session_cancel (safe
// from any thread), so no frame waits on the SDK; the worst frame time is printed at the end.
//
//   game-loop MODEL_DIR [frames]
#include <mneme/mneme.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

namespace {

using clock_type = std::chrono::steady_clock;

struct shared_text {
    std::mutex mutex;  // held only for appends and copies, never across an SDK call
    std::string text;
    std::atomic<uint64_t> tokens{0};
};

mneme_bool MNEME_CALL on_token(void* user_data, const mneme_token_event* ev) {
    auto* shared = static_cast<shared_text*>(user_data);
    {
        std::lock_guard lock(shared->mutex);
        shared->text.append(ev->text, ev->text_len);
    }
    shared->tokens.fetch_add(1, std::memory_order_relaxed);
    return MNEME_TRUE;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s MODEL_DIR [frames]\n", argv[0]);
        return 2;
    }
    const int frames = argc > 2 ? std::atoi(argv[2]) : 240;
    mneme_runtime_desc rd = MNEME_RUNTIME_DESC_INIT;
    rd.n_threads = 1;  // leave the other cores to the renderer
    mneme_runtime* rt = nullptr;
    mneme_model* model = nullptr;
    mneme_session* session = nullptr;
    if (mneme_runtime_create(&rd, &rt) != MNEME_OK || mneme_model_open(rt, argv[1], nullptr, &model) != MNEME_OK) {
        std::fprintf(stderr, "cannot open %s: %s\n", argv[1], mneme_last_error_message());
        return 1;
    }
    mneme_session_desc sd = MNEME_SESSION_DESC_INIT;
    sd.n_ctx = 1024;
    if (mneme_session_create(model, &sd, &session) != MNEME_OK) return 1;

    shared_text shared;
    std::atomic<bool> done{false};
    std::thread worker([&] {
        const char* prompt = "An NPC greets the player:";
        if (mneme_session_feed_text(session, prompt, std::strlen(prompt), nullptr) == MNEME_OK) {
            mneme_generate_desc gd = MNEME_GENERATE_DESC_INIT;
            gd.max_tokens = 400;
            gd.token_fn = on_token;
            gd.token_user_data = &shared;
            (void)mneme_session_generate(session, &gd, nullptr);
        }
        done = true;
    });

    // 60 frames per second; a frame's "work" is a copy of the text so far (the HUD).
    const auto frame = std::chrono::microseconds(16667);
    double worst_ms = 0, total_ms = 0;
    auto next = clock_type::now();
    for (int f = 0; f < frames; ++f) {
        const auto t0 = clock_type::now();
        std::string hud;
        {
            std::lock_guard lock(shared.mutex);
            hud = shared.text;
        }
        if (f == frames - 1 && !done) mneme_session_cancel(session);  // the player walked away
        const double ms = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
        worst_ms = std::max(worst_ms, ms);
        total_ms += ms;
        next += frame;
        std::this_thread::sleep_until(next);
    }
    worker.join();
    std::printf("%d frames, worst frame work %.3f ms, mean %.3f ms; %llu tokens generated meanwhile\n", frames,
                worst_ms, total_ms / frames, static_cast<unsigned long long>(shared.tokens.load()));
    mneme_session_destroy(session);
    mneme_model_destroy(model);
    mneme_runtime_destroy(rt);
    return worst_ms < 5.0 ? 0 : 1;  // a frame that waited on the SDK would show up here
}
