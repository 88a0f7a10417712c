// The arithmetic peak prefill is compared with: the CPU backend's own fast float32 matmul kernel
// (the one the plugin runs, AMX tiles included where the CPU has them) on compute-bound shapes,
// through the runtime's thread pool.
#pragma once

#include <string>
#include <vector>

namespace mneme {
class thread_pool;
}

namespace mneme_cli::bench {

struct gemm_shape_result {
    std::string weights;  // "f32" or "fp8"
    long long rows = 0, n = 0, k = 0;
    double gflops = 0;  // best of the repetitions, 2·rows·n·k FLOPs per call
};

struct gemm_peak {
    std::string isa;  // instruction set the fast kernels chose
    std::vector<gemm_shape_result> shapes;
    // The cores' float32 FMA rate with operands in registers (same threads, widest vectors the CPU
    // has): the hardware ceiling the kernel itself is measured against. 0 without AVX2+FMA.
    double fma_gflops = 0;
    double best_gflops() const;
};

// Float32 activations against float32 weights and against FP8 e4m3 weights with 128×128 block
// scales (the published V3 format, decoded inside the kernel), at prefill-sized row counts.
gemm_peak measure_gemm_peak(mneme::thread_pool& pool, int reps = 3);

}  // namespace mneme_cli::bench
