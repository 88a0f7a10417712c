#version 450
// DeepSeek-V4 mHC. Mode 0, HC_COEFFS: one invocation per token (sigmoids, then Sinkhorn on the
// n x n comb logits in the reference's order). Mode 1, STREAM_MIX: one invocation per output element.
// Op words: 0 mode. HC_COEFFS: 1 n, 2 head, 3 sinkhorn iters, 4 eps, 5 post_mult.
// STREAM_MIX: 1 n_in, 2 n_out, 3 weight_offset, 4 bias_offset, 5 has update (src2).
#extension GL_GOOGLE_include_directive : enable
#include "common.glsl"

#define MAX_N 8
float cm[MAX_N * MAX_N];

void hc_coeffs(uint t) {
    const uint n = PU(1), m = T_NE(SRC0, 0);
    const uint mx = ROW_ADDR(SRC0, t), o = ROW_ADDR(DST, t);
    const uint sc = T_OFF(SRC1), base = T_OFF(SRC2);
    const float eps = PF(4);
    const float s0 = LDF(SRC1, sc);
    for (uint i = 0u; i < n; ++i) STF(DST, o + 4u * i, sigmoid(LDF(SRC0, mx + 4u * i) * s0 + LDF(SRC2, base + 4u * i)) + eps);
    if (PU(2) != 0u) return;
    const float s1 = LDF(SRC1, sc + 4u), s2 = LDF(SRC1, sc + 8u);
    for (uint j = n; j < 2u * n; ++j) {
        STF(DST, o + 4u * j, PF(5) * sigmoid(LDF(SRC0, mx + 4u * j) * s1 + LDF(SRC2, base + 4u * j)));
    }
    for (uint k = 2u * n; k < m; ++k) cm[k - 2u * n] = LDF(SRC0, mx + 4u * k) * s2 + LDF(SRC2, base + 4u * k);
    for (uint i = 0u; i < n; ++i) {
        float mr = NEG_INF;
        for (uint j = 0u; j < n; ++j) mr = max(mr, cm[i * n + j]);
        float sum = 0.0;
        for (uint j = 0u; j < n; ++j) {
            cm[i * n + j] = exp(cm[i * n + j] - mr);
            sum += cm[i * n + j];
        }
        for (uint j = 0u; j < n; ++j) cm[i * n + j] = cm[i * n + j] / sum + eps;
    }
    for (uint it = 0u; it < PU(3); ++it) {
        if (it > 0u) {
            for (uint i = 0u; i < n; ++i) {
                float sum = 0.0;
                for (uint j = 0u; j < n; ++j) sum += cm[i * n + j];
                for (uint j = 0u; j < n; ++j) cm[i * n + j] /= sum + eps;
            }
        }
        for (uint j = 0u; j < n; ++j) {
            float sum = 0.0;
            for (uint i = 0u; i < n; ++i) sum += cm[i * n + j];
            for (uint i = 0u; i < n; ++i) cm[i * n + j] /= sum + eps;
        }
    }
    for (uint k = 0u; k < n * n; ++k) STF(DST, o + 4u * (2u * n + k), cm[k]);
}

void stream_mix(uint id) {
    const uint d = T_NE(SRC0, 0), n_in = PU(1), n_out = PU(2);
    const uint q = id % d, j = (id / d) % n_out, t = id / (d * n_out);
    const uint c = ROW_ADDR(SRC1, t);
    float acc = 0.0;
    for (uint i = 0u; i < n_in; ++i) {
        acc += LDF(SRC1, c + 4u * (PU(3) + i * n_out + j)) * LDF(SRC0, ELEM(SRC0, t * n_in + i, q));
    }
    if (PU(5) != 0u) acc = LDF(SRC1, c + 4u * (PU(4) + j)) * LDF(SRC2, ELEM(SRC2, t, q)) + acc;
    STF(DST, ELEM(DST, t * n_out + j, q), acc);
}

void main() {
    const uint id = item_id();
    if (id >= n_items()) return;
    if (PU(0) == 0u) {
        hc_coeffs(id);
    } else {
        stream_mix(id);
    }
}
