// Shared pieces of the fast-kernel tests: a real worker pool behind exec_ctx, a loop over every
// instruction set this CPU supports, and random weights in each stored format.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <vector>

#include "core/thread-pool.h"
#include "mneme_kernels/cpu-fast.h"
#include "mneme_kernels/number-formats.h"

namespace mneme::test {

struct pooled_exec {
    thread_pool pool;
    kernels::exec_ctx ctx;
    explicit pooled_exec(unsigned threads = 2) : pool(threads) {
        ctx.host = &pool;
        ctx.parallel_for = [](void* host, std::size_t n, std::size_t grain, void (*fn)(void*, std::size_t, std::size_t),
                              void* c) {
            static_cast<thread_pool*>(host)->parallel_for(n, grain, [&](std::size_t b, std::size_t e) { fn(c, b, e); });
        };
    }
};

// Runs body once per supported instruction set with that set forced, then restores the best one.
inline void for_each_isa(const std::function<void(kernels::fast::isa)>& body) {
    using kernels::fast::isa;
    for (isa i : {isa::scalar, isa::avx2, isa::avx512, isa::amx}) {
        if (!kernels::fast::isa_supported(i)) continue;
        kernels::fast::select_isa(i);
        body(i);
    }
    kernels::fast::select_isa(kernels::fast::detect_isa());
}

// A stored format of weights and their block scales, for tests that walk several.
struct stored_format {
    kernels::weight_format fmt;
    kernels::scale_format sfmt;
    int64_t block_n, block_k;
};

// A random weight matrix with its storage; finite values only (NaN codes are tested separately).
struct stored_weight {
    std::vector<uint8_t> data, scale;
    kernels::weight_view view;
};

inline stored_weight random_weight(std::mt19937_64& rng, kernels::weight_format fmt, int64_t n, int64_t k,
                                   kernels::scale_format sfmt = kernels::scale_format::none, int64_t block_n = 1,
                                   int64_t block_k = 1, int64_t pad_bytes = 0) {
    using kernels::weight_format;
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::uniform_int_distribution<int> byte(0, 255);
    stored_weight s;
    int64_t row_bytes = 0;
    switch (fmt) {
        case weight_format::f32: row_bytes = 4 * k; break;
        case weight_format::f64: row_bytes = 8 * k; break;
        case weight_format::bf16:
        case weight_format::f16: row_bytes = 2 * k; break;
        case weight_format::e4m3: row_bytes = k; break;
        case weight_format::e2m1: row_bytes = (k + 1) / 2; break;
    }
    row_bytes += pad_bytes;
    s.data.assign(static_cast<std::size_t>(row_bytes * n), 0);
    for (int64_t r = 0; r < n; ++r) {
        uint8_t* row = s.data.data() + r * row_bytes;
        for (int64_t i = 0; i < k; ++i) {
            const float v = u(rng);
            switch (fmt) {
                case weight_format::f32: std::memcpy(row + 4 * i, &v, 4); break;
                case weight_format::f64: {
                    const double d = static_cast<double>(v) * (1.0 + 1e-9);
                    std::memcpy(row + 8 * i, &d, 8);
                    break;
                }
                case weight_format::bf16: {
                    const uint16_t h = kernels::f32_to_bf16(v);
                    std::memcpy(row + 2 * i, &h, 2);
                    break;
                }
                case weight_format::f16: {
                    // Random bit patterns cover subnormals; exponent 31 (inf/NaN) is avoided.
                    uint16_t h = static_cast<uint16_t>(byte(rng) | (byte(rng) << 8));
                    if (((h >> 10) & 0x1f) == 0x1f) h &= 0xbfff;
                    std::memcpy(row + 2 * i, &h, 2);
                    break;
                }
                case weight_format::e4m3: {
                    uint8_t b = static_cast<uint8_t>(byte(rng));
                    if ((b & 0x7f) == 0x7f) b ^= 1;  // keep clear of NaN
                    row[i] = b;
                    break;
                }
                case weight_format::e2m1: {
                    const auto nib = static_cast<uint8_t>(byte(rng) & 0xf);
                    row[i / 2] = static_cast<uint8_t>(i % 2 ? (row[i / 2] | (nib << 4)) : (row[i / 2] | nib));
                    break;
                }
            }
        }
    }
    s.view.data = s.data.data();
    s.view.format = fmt;
    s.view.n = n;
    s.view.k = k;
    s.view.row_bytes = row_bytes;
    if (sfmt != kernels::scale_format::none) {
        const int64_t sn = (n + block_n - 1) / block_n, sk = (k + block_k - 1) / block_k;
        const int64_t es = sfmt == kernels::scale_format::f32 ? 4 : 1;
        s.scale.assign(static_cast<std::size_t>(sn * sk * es), 0);
        std::uniform_int_distribution<int> e(118, 136);
        for (int64_t i = 0; i < sn * sk; ++i) {
            if (es == 4) {
                const float f = std::ldexp(0.5f + 0.5f * (u(rng) + 1.0f), e(rng) - 127);
                std::memcpy(s.scale.data() + 4 * i, &f, 4);
            } else {
                s.scale[static_cast<std::size_t>(i)] = static_cast<uint8_t>(e(rng));
            }
        }
        s.view.scale = s.scale.data();
        s.view.scale_fmt = sfmt;
        s.view.block_n = block_n;
        s.view.block_k = block_k;
        s.view.scale_row_elems = sk;
    }
    return s;
}

}  // namespace mneme::test
