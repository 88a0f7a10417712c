#version 450
// COMPRESS_POOL: gated pooling of blocks of `ratio` tokens, one invocation per (channel, block).
// Op words: 0 ratio, 1 first_pos, 2 first_block, 3 overlap (int32).
#extension GL_GOOGLE_include_directive : enable
#include "common.glsl"

void main() {
    const uint id = item_id();
    if (id >= n_items()) return;
    const int width = int(T_NE(DST, 0)), r = PI(0), channels = int(T_NE(SRC0, 0));
    const int d = int(id) % width, k = int(id) / width;
    const int j = PI(2) + k;
    const bool overlap = PU(3) != 0u;
    // Candidates in order: block j-1 on the first half (overlap only), then block j.
    const bool prev = overlap && j > 0;
    const int first_tok = prev ? (j - 1) * r : j * r;
    const int n_cand = prev ? 2 * r : r;
    float m = NEG_INF;
    for (int c = 0; c < n_cand; ++c) {
        const int pos = first_tok + c, row = pos - PI(1);
        const int ch = c < r && prev ? d : (overlap ? width + d : d);
        m = max(m, LDF(SRC1, ELEM(SRC1, uint(row), uint(ch))) + LDF(SRC2, T_OFF(SRC2) + 4u * uint((pos % r) * channels + ch)));
    }
    float num = 0.0, den = 0.0;
    for (int c = 0; c < n_cand; ++c) {
        const int pos = first_tok + c, row = pos - PI(1);
        const int ch = c < r && prev ? d : (overlap ? width + d : d);
        const float s = LDF(SRC1, ELEM(SRC1, uint(row), uint(ch))) + LDF(SRC2, T_OFF(SRC2) + 4u * uint((pos % r) * channels + ch));
        const float w = exp(s - m);
        num += LDF(SRC0, ELEM(SRC0, uint(row), uint(ch))) * w;
        den += w;
    }
    STF(DST, ELEM(DST, uint(k), uint(d)), num / den);
}
