#version 450
// TOPK: indices of the k largest values per row in descending order; NaN after every number,
// equal values by lower index. The order is total, so slot i is the best element ordered after
// slot i-1: O(n k) per row without scratch memory. Op words: 0 k.
#extension GL_GOOGLE_include_directive : enable
#include "common.glsl"

bool before(float va, uint a, float vb, uint b) {
    const bool na = isnan(va), nb = isnan(vb);
    if (na != nb) return nb;
    if (!na && va != vb) return va > vb;
    return a < b;
}

void main() {
    const uint r = item_id();
    if (r >= n_items()) return;
    const uint n = T_NE(SRC0, 0), k = PU(0);
    const uint x = ROW_ADDR(SRC0, r), y = ROW_ADDR(DST, r);
    uint prev = 0u;
    float prev_v = 0.0;
    for (uint slot = 0u; slot < k; ++slot) {
        uint best = n;
        float best_v = 0.0;
        for (uint i = 0u; i < n; ++i) {
            const float v = LDF(SRC0, x + 4u * i);
            if (slot > 0u && !before(prev_v, prev, v, i)) continue;
            if (best == n || before(v, i, best_v, best)) {
                best = i;
                best_v = v;
            }
        }
        STI(DST, y + 4u * slot, best);
        prev = best;
        prev_v = best_v;
    }
}
