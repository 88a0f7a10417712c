// Run-time choice of the instruction set: each variant is compiled with function-level target
// attributes, so the library runs on any x86-64 (or non-x86) CPU and only calls code the CPU has.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#endif
#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
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

#if defined(__x86_64__)
// AMX tiles with BF16 and AVX512-BF16 (CPUID leaf 7), tile state enabled in XCR0 (bits 17 and 18),
// and on Linux the process's permission to use tile data (ARCH_REQ_XCOMP_PERM for
// XFEATURE_XTILEDATA), which the kernel grants once for all threads. Asked once.
bool has_amx() {
    static const bool ok = [] {
        unsigned a = 0, b = 0, c = 0, d = 0;
        if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
        const bool tiles = (d & (1u << 24)) != 0 && (d & (1u << 22)) != 0;
        if (!tiles || !__get_cpuid_count(7, 1, &a, &b, &c, &d) || (a & (1u << 5)) == 0) return false;
        if (!__get_cpuid(1, &a, &b, &c, &d) || (c & (1u << 27)) == 0) return false;  // OSXSAVE
        unsigned lo = 0, hi = 0;
        asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        if ((lo & (3u << 17)) != (3u << 17)) return false;
#if defined(__linux__)
        constexpr long arch_req_xcomp_perm = 0x1023, xfeature_xtiledata = 18;
        return syscall(SYS_arch_prctl, arch_req_xcomp_perm, xfeature_xtiledata) == 0;
#else
        return false;
#endif
    }();
    return ok;
}
#endif

// Nanoseconds for a fixed run of independent FMAs whose multiplicand is m (times 2^112 keeps each
// product normal, as in dot_e4m3_wide), the fastest of three runs.
#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) double fma_run_ns(float m) {
    double best = 1e30;
    for (int trial = 0; trial < 3; ++trial) {
        const __m256 a = _mm256_set1_ps(m), x = _mm256_set1_ps(0x1p112f);
        __m256 acc[8];
        for (auto& v : acc) v = _mm256_setzero_ps();
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < 512; ++i) {
            for (auto& v : acc) v = _mm256_fmadd_ps(a, x, v);
            asm volatile("" : "+x"(acc[0]), "+x"(acc[1]), "+x"(acc[2]), "+x"(acc[3]));
        }
        const auto t1 = std::chrono::steady_clock::now();
        float sink[8];
        _mm256_storeu_ps(sink, _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[6], acc[7])));
        asm volatile("" : : "r"(sink) : "memory");
        best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count());
    }
    return best;
}
#endif

bool subnormal_inputs_cheap() {
#if defined(__x86_64__)
    static const bool cheap = [] {
        if (!isa_supported(isa::avx2)) return false;
        // Timed with subnormals read and written as they are: a calling thread with DAZ set would
        // otherwise make the inputs zeros and every core look cheap.
        const unsigned saved = _mm_getcsr();
        _mm_setcsr(saved & ~0x8040u);  // DAZ (bit 6) and FTZ (bit 15) off
        const double normal = fma_run_ns(0x1.8p-100f), subnormal = fma_run_ns(0x1.8p-130f);
        _mm_setcsr(saved);
        return subnormal <= 2.0 * normal + 200.0;  // + 200 ns: a clock tick or two of slack
    }();
    return cheap;
#else
    return false;
#endif
}

std::atomic<uint32_t> g_widening{static_cast<uint32_t>(e4m3_widening::probe)};

}  // namespace

void set_e4m3_widening(e4m3_widening mode) {
    g_widening.store(static_cast<uint32_t>(mode), std::memory_order_relaxed);
}

bool e4m3_widening_used() {
    switch (static_cast<e4m3_widening>(g_widening.load(std::memory_order_relaxed))) {
        case e4m3_widening::on:
            return true;
        case e4m3_widening::off:
            return false;
        case e4m3_widening::probe:
            break;
    }
    return subnormal_inputs_cheap();
}

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
        case isa::amx:
#if defined(__x86_64__)
            return isa_supported(isa::avx512) && has_amx();
#else
            return false;
#endif
    }
    return false;
#else
    return i == isa::scalar;
#endif
}

isa detect_isa() {
    if (isa_supported(isa::amx)) return isa::amx;
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

isa isa_at_most(const char* name) {
    const std::string_view n = name ? name : "";
    isa cap = isa::amx;
    if (n == "scalar") cap = isa::scalar;
    if (n == "avx2") cap = isa::avx2;
    if (n == "avx512") cap = isa::avx512;
    // Only sets at or below the cap are probed: asking for amx requests the tiles from the OS.
    isa best = cap;
    while (best != isa::scalar && !isa_supported(best)) best = static_cast<isa>(static_cast<uint32_t>(best) - 1);
    return best;
}

const char* isa_name(isa i) {
    switch (i) {
        case isa::scalar: return "scalar";
        case isa::avx2: return "avx2+fma+f16c";
        case isa::avx512: return "avx512f+bw+vl";
        case isa::amx:
            return "avx512+amx-bf16";
    }
    return "?";
}

const kernel_table& active_kernels() {
#if defined(__x86_64__) || defined(__i386__)
    switch (active_isa()) {
#if defined(__x86_64__)
        case isa::amx:
            return amx_kernels();
#else
        case isa::amx:
            break;
#endif
        case isa::avx512: return avx512_kernels();
        case isa::avx2: return avx2_kernels();
        case isa::scalar: break;
    }
#endif
    return scalar_kernels();
}

}  // namespace mneme::kernels::fast
