#version 450
// Element-wise ops, one invocation per element (i, row). Op words: 0 mode (0 add, 1 mul, 2 scale,
// 3 swiglu), 1 scale / swiglu limit, 2 bias, 3 src1 broadcasts one row (add/mul) / src2 row
// weights given (swiglu).
#extension GL_GOOGLE_include_directive : enable
#include "common.glsl"

void main() {
    const uint id = item_id();
    if (id >= n_items()) return;
    const uint n = T_NE(DST, 0);
    const uint i = id % n, r = id / n;
    const float a = LDF(SRC0, ELEM(SRC0, r, i));
    const uint mode = PU(0);
    float v;
    if (mode == 2u) {
        v = a * PF(1) + PF(2);
    } else if (mode == 3u) {
        float g = a, u = LDF(SRC1, ELEM(SRC1, r, i));
        const float lim = PF(1);
        if (lim > 0.0) {
            g = min(g, lim);
            u = clamp(u, -lim, lim);
        }
        v = g / (1.0 + exp(-g)) * u;
        if (PU(3) != 0u) v *= LDF(SRC2, T_OFF(SRC2) + 4u * r);
    } else {
        const float b = LDF(SRC1, ELEM(SRC1, PU(3) != 0u ? 0u : r, i));
        v = mode == 0u ? a + b : a * b;
    }
    STF(DST, ELEM(DST, r, i), v);
}
