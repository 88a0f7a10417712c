#version 450
// ADD_ROWS_SCALED: dst[:, idx[r]] += w[r] * x[:, r], rows in order (the MoE combine). One
// invocation per column, so every output element sums in the reference's order.
#extension GL_GOOGLE_include_directive : enable
#include "common.glsl"

void main() {
    const uint c = item_id();
    if (c >= n_items()) return;
    const uint rows = ROWS(SRC0);
    for (uint r = 0u; r < rows; ++r) {
        const uint dst_row = uint(LDI(SRC1, T_OFF(SRC1) + 4u * r));
        if (dst_row >= ROWS(DST)) continue;  // out of range: ignored rather than written out of bounds
        const uint y = ELEM(DST, dst_row, c);
        const float w = LDF(SRC2, T_OFF(SRC2) + 4u * r);
        STF(DST, y, LDF(DST, y) + w * LDF(SRC0, ELEM(SRC0, r, c)));
    }
}
