#version 450
// INDEXER_SCORES: dst[j, s] = sum_h w[h, s] * relu(q[:, h, s] . k[:, j]) for causal j, else -inf.
// One invocation per (key, query). Op words: 0 start_pos, 1 ratio (int32).
#extension GL_GOOGLE_include_directive : enable
#include "common.glsl"

void main() {
    const uint id = item_id();
    if (id >= n_items()) return;
    const uint n_keys = T_NE(DST, 0);
    const uint j = id % n_keys, s = id / n_keys;
    const int valid = (PI(0) + int(s) + 1) / PI(1);
    const uint out_addr = ELEM(DST, s, j);
    if (int(j) >= valid) {
        STF(DST, out_addr, NEG_INF);
        return;
    }
    const uint d = T_NE(SRC0, 0), heads = T_NE(SRC0, 1);
    const uint k = ROW_ADDR(SRC2, j);
    float total = 0.0;
    for (uint h = 0u; h < heads; ++h) {
        const uint q = T_OFF(SRC0) + 4u * ((s * heads + h) * d);
        float dot = 0.0;
        for (uint c = 0u; c < d; ++c) dot += LDF(SRC0, q + 4u * c) * LDF(SRC2, k + 4u * c);
        total += LDF(SRC1, T_OFF(SRC1) + 4u * (s * heads + h)) * max(dot, 0.0);
    }
    STF(DST, out_addr, total);
}
