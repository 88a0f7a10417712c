// `mneme-cli plan`: the itemised memory estimate for a context length, and the largest context
// that fits a budget — before anything big is allocated.
#include <cstdio>
#include <memory>

#include "cli-model.h"
#include "commands.h"

namespace mneme_cli {

int cmd_plan(const args& a) {
    auto known = model_option_names();
    for (const char* n : {"context", "budget-gib", "json"}) known.emplace_back(n);
    a.allow_only(known);
    const uint64_t context = static_cast<uint64_t>(a.get_int("context", 4096));
    mneme_runtime* rt = open_runtime(a);
    if (!rt) return 1;
    std::unique_ptr<mneme_runtime, void (*)(mneme_runtime*)> rt_guard(rt, mneme_runtime_destroy);
    // The planner needs the weights mapped but no caches: opening a model allocates no context.
    mneme_model* m = open_model(rt, a);
    if (!m) return 1;
    std::unique_ptr<mneme_model, void (*)(mneme_model*)> m_guard(m, mneme_model_destroy);
    mneme_memory_plan p{};
    p.struct_size = sizeof(p);
    const mneme_status st = mneme_model_plan(m, context, &p);
    if (st != MNEME_OK) return report_failure("plan", st);
    uint64_t budget = p.budget_bytes;
    if (a.has("budget-gib")) budget = static_cast<uint64_t>(a.get_double("budget-gib", 0) * 1073741824.0);
    const uint64_t fixed = p.weights_bytes + p.engram_bytes + p.scratch_bytes;
    const uint64_t max_ctx = budget && p.cache_bytes_per_token ? (budget > fixed ? (budget - fixed) / p.cache_bytes_per_token : 0) : 0;
    const bool fits = budget == 0 || p.total_bytes <= budget;
    if (a.has("json")) {
        std::printf(
            "{\"context_tokens\": %llu, \"total_bytes\": %llu, \"budget_bytes\": %llu, \"fits\": %s, "
            "\"max_context_in_budget\": %llu, \"cache_bytes_per_token\": %llu, \"items\": {\"weights_fp8\": %llu, "
            "\"weights_fp4\": %llu, \"weights_bf16\": %llu, \"weights_f32\": %llu, \"cache\": %llu, \"engram\": %llu, "
            "\"scratch\": %llu}}\n",
            static_cast<unsigned long long>(context), static_cast<unsigned long long>(p.total_bytes),
            static_cast<unsigned long long>(budget), fits ? "true" : "false", static_cast<unsigned long long>(max_ctx),
            static_cast<unsigned long long>(p.cache_bytes_per_token), static_cast<unsigned long long>(p.weights_fp8_bytes),
            static_cast<unsigned long long>(p.weights_fp4_bytes), static_cast<unsigned long long>(p.weights_bf16_bytes),
            static_cast<unsigned long long>(p.weights_f32_bytes), static_cast<unsigned long long>(p.cache_bytes),
            static_cast<unsigned long long>(p.engram_bytes), static_cast<unsigned long long>(p.scratch_bytes));
        return 0;
    }
    const double mib = 1048576.0;
    std::printf("memory plan for %llu tokens of context:\n", static_cast<unsigned long long>(context));
    std::printf("  weights, FP8          %10.2f MiB\n", static_cast<double>(p.weights_fp8_bytes) / mib);
    std::printf("  weights, FP4          %10.2f MiB\n", static_cast<double>(p.weights_fp4_bytes) / mib);
    std::printf("  weights, BF16/F16     %10.2f MiB\n", static_cast<double>(p.weights_bf16_bytes) / mib);
    std::printf("  weights, F32 + tables %10.2f MiB\n", static_cast<double>(p.weights_f32_bytes) / mib);
    std::printf("  caches (%llu B/token) %10.2f MiB\n", static_cast<unsigned long long>(p.cache_bytes_per_token),
                static_cast<double>(p.cache_bytes) / mib);
    std::printf("  Engram cache          %10.2f MiB\n", static_cast<double>(p.engram_bytes) / mib);
    std::printf("  scratch               %10.2f MiB\n", static_cast<double>(p.scratch_bytes) / mib);
    std::printf("  total                 %10.2f MiB\n", static_cast<double>(p.total_bytes) / mib);
    if (budget) {
        std::printf("budget %.2f GiB: %s; the largest context that fits is %llu tokens\n",
                    static_cast<double>(budget) / 1073741824.0, fits ? "fits" : "does NOT fit",
                    static_cast<unsigned long long>(max_ctx));
    }
    return 0;
}

}  // namespace mneme_cli
