#version 450
// Engram. Mode 0, ENGRAM_GATE: one invocation per (stream, token). Mode 1, CAUSAL_CONV: one
// invocation per (channel, token). Op words: 0 mode. Gate: 1 eps, 2 clamp. Conv: 1 dilation, 2 silu.
#extension GL_GOOGLE_include_directive : enable
#include "common.glsl"

void engram_gate(uint id) {
    const uint d = T_NE(SRC0, 0), n = T_NE(SRC0, 1);
    const uint t = id / n, m = id % n;
    const uint xs = T_OFF(SRC0) + 4u * ((t * n + m) * d);
    const uint kv = ROW_ADDR(SRC1, t);
    const uint key = kv + 4u * m * d, value = kv + 4u * n * d;
    const uint qw = T_OFF(SRC2) + 4u * m * d, kw = T_OFF(SRC3) + 4u * m * d;
    const float eps = PF(1);
    float sk = 0.0, sq = 0.0;
    for (uint i = 0u; i < d; ++i) {
        const float kk = LDF(SRC1, key + 4u * i), xx = LDF(SRC0, xs + 4u * i);
        sk += kk * kk;
        sq += xx * xx;
    }
    const float rk = sqrt(sk / float(d) + eps), rq = sqrt(sq / float(d) + eps);
    float g = 0.0;
    for (uint i = 0u; i < d; ++i) {
        g += (LDF(SRC3, kw + 4u * i) * LDF(SRC1, key + 4u * i) / rk) * (LDF(SRC2, qw + 4u * i) * LDF(SRC0, xs + 4u * i) / rq);
    }
    g /= sqrt(float(d));
    // Signed square root; sign(0) = 0 keeps an exact zero at zero.
    const float mag = sqrt(max(abs(g), PF(2)));
    g = g > 0.0 ? mag : (g < 0.0 ? -mag : 0.0);
    const float alpha = sigmoid(g);
    const uint out_addr = T_OFF(DST) + 4u * ((t * n + m) * d);
    for (uint i = 0u; i < d; ++i) STF(DST, out_addr + 4u * i, alpha * LDF(SRC1, value + 4u * i));
}

void causal_conv(uint id) {
    const uint channels = T_NE(DST, 0);
    const uint c = id % channels, t = id / channels;
    const uint k = T_NE(SRC1, 0), dilation = PU(1);
    const uint hist = ROWS(SRC0) - ROWS(DST);
    float acc = 0.0;
    for (uint i = 0u; i < k; ++i) {
        const uint row = hist + t - (k - 1u - i) * dilation;
        acc += LDF(SRC1, T_OFF(SRC1) + 4u * (c * k + i)) * LDF(SRC0, T_OFF(SRC0) + 4u * (row * channels + c));
    }
    STF(DST, T_OFF(DST) + 4u * (t * channels + c), PU(2) != 0u ? acc * sigmoid(acc) : acc);
}

void main() {
    const uint id = item_id();
    if (id >= n_items()) return;
    if (PU(0) == 0u) {
        engram_gate(id);
    } else {
        causal_conv(id);
    }
}
