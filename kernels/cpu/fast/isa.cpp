// Run-time choice of the instruction set: each variant is compiled with function-level target
// attributes, so the library runs on any x86-64 (or non-x86) CPU and only calls code the CPU has.
#include <atomic>
#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "fast-kernels.h"

namespace mneme::kernels::fast {
namespace {

// Constant-initialised so that use from other static initialisers is safe; 255 = not chosen yet.
std::atomic<uint32_t> g_active{255};

std::atomic<bool> g_reference_only{false};

#if defined(__x86_64__) || defined(__i386__)
// F16C from CPUID leaf 1 (ECX bit 29): not every compiler's __builtin_cpu_supports knows "f16c".
bool has_f16c() {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 29)) != 0;
}
#endif

}  // namespace

void set_reference_only(bool on) { g_reference_only.store(on, std::memory_order_relaxed); }
bool reference_only() { return g_reference_only.load(std::memory_order_relaxed); }

bool isa_supported(isa i) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    switch (i) {
        case isa::scalar: return true;
        case isa::avx2:
            return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
        case isa::avx512:
            return isa_supported(isa::avx2) && __builtin_cpu_supports("avx512f") &&
                   __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
    }
    return false;
#else
    return i == isa::scalar;
#endif
}

isa detect_isa() {
    if (isa_supported(isa::avx512)) return isa::avx512;
    if (isa_supported(isa::avx2)) return isa::avx2;
    return isa::scalar;
}

isa active_isa() {
    const uint32_t v = g_active.load(std::memory_order_relaxed);
    if (v != 255) return static_cast<isa>(v);
    const isa best = detect_isa();
    g_active.store(static_cast<uint32_t>(best), std::memory_order_relaxed);
    return best;
}

isa select_isa(isa wanted) {
    while (wanted != isa::scalar && !isa_supported(wanted)) wanted = static_cast<isa>(static_cast<uint32_t>(wanted) - 1);
    g_active.store(static_cast<uint32_t>(wanted), std::memory_order_relaxed);
    return wanted;
}

const char* isa_name(isa i) {
    switch (i) {
        case isa::scalar: return "scalar";
        case isa::avx2: return "avx2+fma+f16c";
        case isa::avx512: return "avx512f+bw+vl";
    }
    return "?";
}

const kernel_table& active_kernels() {
#if defined(__x86_64__) || defined(__i386__)
    switch (active_isa()) {
        case isa::avx512: return avx512_kernels();
        case isa::avx2: return avx2_kernels();
        case isa::scalar: break;
    }
#endif
    return scalar_kernels();
}

}  // namespace mneme::kernels::fast
