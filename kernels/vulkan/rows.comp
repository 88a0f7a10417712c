#version 450
// COPY and GET_ROWS: decode rows of any stored format (optionally block-scaled) into float32.
// Op words: formats.glsl's 0-3, then 4 mode (0 copy: row r of src0; 1 gather: row src1[r], I32;
// 2 gather with I64 indices), 5 first table row bound as src0 (a slice of a large table), 6 table
// height. For COPY the scales are src1, for GET_ROWS there are none.
#extension GL_GOOGLE_include_directive : enable
#include "common.glsl"
#define WBUF SRC0
#define SBUF SRC1
#include "formats.glsl"

void main() {
    const uint id = item_id();
    if (id >= n_items()) return;
    const uint width = T_NE(DST, 0);
    const uint k = id % width, r = id / width;
    uint n = r;
    if (PU(4) != 0u) {
        n = PU(4) == 1u ? uint(LDI(SRC1, T_OFF(SRC1) + 4u * r))
                        : B[SRC1].w[(T_OFF(SRC1) + 8u * r) >> 2];  // I64: the low word (checked on the host: < 2^31)
        if (n >= PU(6)) {  // an index out of range reads nothing and shows as NaN
            STF(DST, ELEM(DST, r, k), QNAN);
            return;
        }
        if (n < PU(5) || n - PU(5) >= ROWS(SRC0)) return;  // another slice of the table holds it
        n -= PU(5);
    }
    STF(DST, ELEM(DST, r, k), weight_decoded(ROW_ADDR(SRC0, n), n, k));
}
