#version 450
// SOFTMAX of scale * x per row; -inf entries get 0, a fully masked row is all zeros.
// Op words: 0 scale.
#extension GL_GOOGLE_include_directive : enable
#include "common.glsl"

void main() {
    const uint r = item_id();
    if (r >= n_items()) return;
    const uint n = T_NE(SRC0, 0);
    const uint x = ROW_ADDR(SRC0, r), y = ROW_ADDR(DST, r);
    const float s = PF(0);
    float m = NEG_INF;
    for (uint i = 0u; i < n; ++i) m = max(m, LDF(SRC0, x + 4u * i) * s);
    if (m == NEG_INF) {
        for (uint i = 0u; i < n; ++i) STF(DST, y + 4u * i, 0.0);
        return;
    }
    float sum = 0.0;
    for (uint i = 0u; i < n; ++i) {
        const float e = exp(LDF(SRC0, x + 4u * i) * s - m);
        STF(DST, y + 4u * i, e);
        sum += e;
    }
    for (uint i = 0u; i < n; ++i) STF(DST, y + 4u * i, LDF(DST, y + 4u * i) / sum);
}
