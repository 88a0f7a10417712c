// The memory planner against the process's real peak memory: opens MODEL, feeds CONTEXT tokens in
// the default chunks, and compares the growth of the peak resident set (VmHWM, which counts the
// touched pages of the mapped weights too) with mneme_model_plan's total for that context.
//
//   mneme-plan-vs-rss MODEL CONTEXT [TOLERANCE]     exit 0 when |measured - planned| <= TOLERANCE * measured
//
// A separate process per measurement, so nothing but the model and its session is in the peak.
#include <mneme/mneme.h>

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

// A field of /proc/self/status in bytes ("VmRSS", "VmHWM").
uint64_t proc_status_bytes(const char* field) {
    FILE* f = std::fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    uint64_t kib = 0;
    const std::size_t n = std::strlen(field);
    while (std::fgets(line, sizeof line, f)) {
        if (std::strncmp(line, field, n) == 0 && line[n] == ':') kib = std::strtoull(line + n + 1, nullptr, 10);
    }
    std::fclose(f);
    return kib * 1024;
}

int fail(const char* what, mneme_status st) {
    std::fprintf(stderr, "%s: %s (%s)\n", what, mneme_status_string(st), mneme_last_error_message());
    return 2;
}

double mib(uint64_t b) { return static_cast<double>(b) / (1024.0 * 1024.0); }

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s MODEL CONTEXT [TOLERANCE]\n", argv[0]);
        return 2;
    }
    const char* dir = argv[1];
    const auto context = static_cast<uint32_t>(std::strtoul(argv[2], nullptr, 10));
    const double tolerance = argc > 3 ? std::strtod(argv[3], nullptr) : 0.10;

    mneme_runtime_desc rd = MNEME_RUNTIME_DESC_INIT;
    rd.n_threads = 2;
    mneme_runtime* rt = nullptr;
    if (mneme_status st = mneme_runtime_create(&rd, &rt); st != MNEME_OK) return fail("runtime", st);
    // The baseline: the process with its libraries and plugins loaded, before the model.
    const uint64_t baseline = proc_status_bytes("VmRSS");

    mneme_model_desc md = MNEME_MODEL_DESC_INIT;
    mneme_model* model = nullptr;
    if (mneme_status st = mneme_model_open(rt, dir, &md, &model); st != MNEME_OK) return fail("model", st);
    mneme_memory_plan plan{};
    plan.struct_size = sizeof(plan);
    if (mneme_status st = mneme_model_plan(model, context, &plan); st != MNEME_OK) return fail("plan", st);
    mneme_model_info info{};
    info.struct_size = sizeof(info);
    if (mneme_status st = mneme_model_get_info(model, &info); st != MNEME_OK) return fail("info", st);

    const uint64_t after_open = proc_status_bytes("VmRSS");
    mneme_session_desc sd = MNEME_SESSION_DESC_INIT;
    sd.n_ctx = context;
    mneme_session* session = nullptr;
    if (mneme_status st = mneme_session_create(model, &sd, &session); st != MNEME_OK) return fail("session", st);
    std::mt19937 rng(7);
    std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(info.vocab_size) - 1);
    std::vector<int32_t> tokens(context);
    for (auto& t : tokens) t = tok(rng);
    mneme_feed_desc fd = MNEME_FEED_DESC_INIT;
    if (mneme_status st = mneme_session_feed_tokens(session, tokens.data(), tokens.size(), &fd); st != MNEME_OK) {
        return fail("feed", st);
    }

    const uint64_t peak = proc_status_bytes("VmHWM");
    std::printf("resident after open %.1f MiB, after the feed %.1f MiB\n", mib(after_open - baseline),
                mib(proc_status_bytes("VmRSS") - baseline));
    const uint64_t measured = peak > baseline ? peak - baseline : 0;
    const double error = (static_cast<double>(plan.total_bytes) - static_cast<double>(measured)) /
                         static_cast<double>(measured ? measured : 1);
    std::printf("context %u: planned %.1f MiB (weights %.1f, cache %.1f, engram %.1f, scratch %.1f), measured peak "
                "growth %.1f MiB (baseline %.1f MiB): %+.1f%%\n",
                context, mib(plan.total_bytes), mib(plan.weights_bytes), mib(plan.cache_bytes), mib(plan.engram_bytes),
                mib(plan.scratch_bytes), mib(measured), mib(baseline), 100.0 * error);
    mneme_session_destroy(session);
    mneme_model_destroy(model);
    mneme_runtime_destroy(rt);
    if (std::fabs(error) > tolerance) {
        std::fprintf(stderr, "the plan is off by more than %.0f%%\n", 100.0 * tolerance);
        return 1;
    }
    return 0;
}
