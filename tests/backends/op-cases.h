// Backend-generic op test cases: every op type on random data and awkward shapes (1, primes, sizes
// that are no multiple of a workgroup), strided views and unaligned offsets. A case runs on the
// backend under test and on the CPU reference plugin; the whole destination buffer is compared.
#pragma once

#include <mneme/mneme_plugin.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "plugin-device.h"

namespace mneme::backend_test {

struct tensor_spec {
    mneme_dtype dtype = MNEME_DTYPE_F32;
    std::array<int64_t, 4> ne{1, 1, 1, 1};
    std::array<int64_t, 4> nb{};
    uint64_t offset = 0;         // the view's start inside its buffer
    std::vector<uint8_t> bytes;  // the buffer's initial contents
};

struct op_case {
    std::string name;
    mneme_op_type type = MNEME_OP_NONE;
    std::vector<tensor_spec> tensors;                               // [0] is the destination
    std::array<int, MNEME_OP_MAX_SRC> src{-1, -1, -1, -1, -1, -1};  // tensor per source; 0 = dst (in place)
    uint32_t n_src = 0;
    std::vector<uint8_t> params;
    double tolerance = 0;  // max |got - ref| / max |ref| over the destination buffer; 0 = bit-exact
};

// Every case, grouped by op family (the family is the case name up to the first '/').
std::vector<op_case> all_op_cases();
// Forms a backend may decline (supports_op says no, and the host keeps float32): BF16 index keys
// and COPY into BF16. Where a backend accepts one, it must match the reference.
std::vector<op_case> optional_op_cases();
// Weights larger than 128 MiB (one storage binding on lavapipe): separate because they are slow.
std::vector<op_case> large_weight_cases();

struct case_result {
    bool ran = false;  // false: the backend does not support the op (supports_op said so)
    bool ok = false;
    double error = 0;  // measured relative error (0 for exact matches)
    std::string message;
};

// Runs `c` on `dev` and on `ref` and compares the destination buffers.
case_result run_case(plugin_device& dev, plugin_device& ref, const op_case& c);

}  // namespace mneme::backend_test
