#version 450
// MATMUL: dst[r, n] = alpha * sum_k x[r, k] * W[n, k], W in any stored format with block scales.
// One invocation per output element. Op words: formats.glsl's 0-3, then 4 alpha.
#extension GL_GOOGLE_include_directive : enable
#include "common.glsl"
#define WBUF SRC1
#define SBUF SRC2
#include "formats.glsl"

void main() {
    const uint id = item_id();
    if (id >= n_items()) return;
    const uint n_out = T_NE(DST, 0);
    const uint n = id % n_out, r = id / n_out;
    const uint k_len = T_NE(SRC0, 0);
    const uint x = ROW_ADDR(SRC0, r);
    const uint wrow = T_OFF(SRC1) + n * T_NB(SRC1, 1);
    float acc = 0.0;
    if (PU(1) == SCALE_NONE) {
        for (uint k = 0u; k < k_len; ++k) acc += LDF(SRC0, x + 4u * k) * weight_at(PU(0), wrow, k);
    } else {
        // One scale per block of block_k along K.
        for (uint k0 = 0u; k0 < k_len; k0 += PU(2)) {
            const float s = scale_at(n, k0);
            const uint k1 = min(k_len, k0 + PU(2));
            for (uint k = k0; k < k1; ++k) acc += LDF(SRC0, x + 4u * k) * (weight_at(PU(0), wrow, k) * s);
        }
    }
    const float alpha = PF(4);
    STF(DST, ELEM(DST, r, n), alpha == 1.0 ? acc : acc * alpha);
}
