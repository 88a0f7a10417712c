#version 450
// RMS_NORM and LAYER_NORM, one invocation per row (summation in element order, as the reference).
// Op words: 0 mode (0 rms, 1 layer), 1 eps, 2 has weight (src1), 3 has bias (src2).
#extension GL_GOOGLE_include_directive : enable
#include "common.glsl"

void main() {
    const uint r = item_id();
    if (r >= n_items()) return;
    const uint d = T_NE(SRC0, 0);
    const uint x = ROW_ADDR(SRC0, r), y = ROW_ADDR(DST, r);
    const float eps = PF(1);
    float mean = 0.0, inv;
    if (PU(0) == 0u) {
        float sum = 0.0;
        for (uint i = 0u; i < d; ++i) {
            const float v = LDF(SRC0, x + 4u * i);
            sum += v * v;
        }
        inv = 1.0 / sqrt(sum / float(d) + eps);
    } else {
        for (uint i = 0u; i < d; ++i) mean += LDF(SRC0, x + 4u * i);
        mean /= float(d);
        float var = 0.0;
        for (uint i = 0u; i < d; ++i) {
            const float c = LDF(SRC0, x + 4u * i) - mean;
            var += c * c;
        }
        inv = 1.0 / sqrt(var / float(d) + eps);
    }
    for (uint i = 0u; i < d; ++i) {
        float v = (LDF(SRC0, x + 4u * i) - mean) * inv;
        if (PU(2) != 0u) v *= LDF(SRC1, T_OFF(SRC1) + 4u * i);
        if (PU(3) != 0u) v += LDF(SRC2, T_OFF(SRC2) + 4u * i);
        STF(DST, y + 4u * i, v);
    }
}
