// The Engram gate against values computed with the float64 reference's own functions
// (tools/reference/engram.py: rms_norm with rms_norm_eps, signed square root with clamp 1e-6,
// sigmoid), including the exact-zero cases (a zero key, a zero stream) where the gate is 1/2.
#include <catch2/catch.hpp>

#include <cmath>

#include "cpu-device.h"

TEST_CASE("Engram gate: sigmoid(signed sqrt(<norm k, norm x> / sqrt(D))) times the value", "[unit][engram]") {
    mneme::test::cpu_device cpu(MNEME_DTYPE_F64);
    auto& g = cpu.g();
    // 2 tokens, hc 2, D 4. Token 1 has a zero key for stream 0 and a zero stream 1.
    const auto x = cpu.constant({4, 2, 2}, {0.5, -1.25, 2.0, 0.75, 1.5, 0.25, -0.5, -2.0,  //
                                            -0.3, 0.8, 0.1, -1.1, 0.0, 0.0, 0.0, 0.0});
    const auto kv = cpu.constant({12, 2}, {0.2, -0.7, 1.3, 0.4, -0.6, 0.9,  0.05, -1.2, 1.0,  -2.0, 0.5, 3.0,  //
                                           0.0, 0.0,  0.0, 0.0, 1.1,  -0.4, 0.3,  0.2,  -1.5, 0.25, 2.0, -0.75});
    const auto qw = cpu.constant({4, 2}, {1.1, 0.9, 1.0, 1.2, 0.8, 1.3, 0.7, 1.05});
    const auto kw = cpu.constant({4, 2}, {0.95, 1.05, 1.15, 0.85, 1.2, 0.6, 1.0, 0.9});
    const auto out = g.tensor({4, 2, 2});
    g.engram_gate(out, x, kv, qw, kw, mneme_op_engram_gate{1e-6, 1e-6});
    const std::vector<double> want = {0.8135557034991292,
                                      -1.6271114069982584,
                                      0.4067778517495646,
                                      2.4406671104973876,
                                      0.7044559906064273,
                                      -1.4089119812128545,
                                      0.35222799530321364,
                                      2.1133679718192817,
                                      -0.75,
                                      0.125,
                                      1.0,
                                      -0.375,
                                      -0.75,
                                      0.125,
                                      1.0,
                                      -0.375};
    const auto got = g.read(out);
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        INFO("element " << i);
        CHECK(std::fabs(got[i] - want[i]) <= 1e-15);
    }
}
