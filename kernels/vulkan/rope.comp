#version 450
// ROPE on a slice of each row of [D, heads, T]; dst = src outside the slice. One invocation per
// (head, token) row. Op words: 0 layout (0 interleaved, 1 half split), 1 offset, 2 n_rot, 3 inverse.
#extension GL_GOOGLE_include_directive : enable
#include "common.glsl"

void main() {
    const uint row = item_id();
    if (row >= n_items()) return;
    const uint t = row / T_NE(SRC0, 1);
    const uint x = ROW_ADDR(SRC0, row), y = ROW_ADDR(DST, row);
    const uint off = PU(1), half_rot = PU(2) / 2u;
    for (uint i = 0u; i < T_NE(SRC0, 0); ++i) {
        if (i < off || i >= off + PU(2)) STF(DST, y + 4u * i, LDF(SRC0, x + 4u * i));
    }
    for (uint j = 0u; j < half_rot; ++j) {
        const uint a = off + (PU(0) == 0u ? 2u * j : j);
        const uint b = off + (PU(0) == 0u ? 2u * j + 1u : j + half_rot);
        const float c = LDF(SRC1, T_OFF(SRC1) + 4u * (t * half_rot + j));
        const float s0 = LDF(SRC2, T_OFF(SRC2) + 4u * (t * half_rot + j));
        const float s = PU(3) != 0u ? -s0 : s0;
        const float xa = LDF(SRC0, x + 4u * a), xb = LDF(SRC0, x + 4u * b);
        STF(DST, y + 4u * a, xa * c - xb * s);
        STF(DST, y + 4u * b, xa * s + xb * c);
    }
}
