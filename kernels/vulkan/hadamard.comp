#version 450
// HADAMARD per row: Sylvester butterflies over doubling spans in dst, then the n^-1/2 scale.
// Op words: 0 in place (dst is src0; no copy).
#extension GL_GOOGLE_include_directive : enable
#include "common.glsl"

void main() {
    const uint r = item_id();
    if (r >= n_items()) return;
    const uint n = T_NE(SRC0, 0);
    const uint x = ROW_ADDR(SRC0, r), y = ROW_ADDR(DST, r);
    if (PU(0) == 0u) {
        for (uint i = 0u; i < n; ++i) STF(DST, y + 4u * i, LDF(SRC0, x + 4u * i));
    }
    for (uint span = 1u; span < n; span *= 2u) {
        for (uint i = 0u; i < n; i += 2u * span) {
            for (uint j = i; j < i + span; ++j) {
                const float a = LDF(DST, y + 4u * j), b = LDF(DST, y + 4u * (j + span));
                STF(DST, y + 4u * j, a + b);
                STF(DST, y + 4u * (j + span), a - b);
            }
        }
    }
    const float norm = 1.0 / sqrt(float(n));
    for (uint i = 0u; i < n; ++i) STF(DST, y + 4u * i, LDF(DST, y + 4u * i) * norm);
}
