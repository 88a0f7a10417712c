// `mneme-cli bench --model DIR`: prefill and decode speed against the machine's measured limits.
#pragma once

#include "cli-args.h"

namespace mneme_cli {

// --prompt-tokens P (128) random ids or --tokens IDS, --gen-tokens G (32), --reps R (2, best of),
// --json, and the model and
// runtime options (--threads N is used for the bandwidth and GEMM probes too).
int cmd_bench_speed(const args& a);

}  // namespace mneme_cli
