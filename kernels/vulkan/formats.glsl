// Decoding of the stored weight formats (FORMATS.md §1) from raw bits, exactly as the CPU
// reference does (kernels/include/mneme_kernels/number-formats.h). The including shader defines
// WBUF (the binding slot of the weights) and SBUF (that of the block scales).
// Parameters (op words): 0 weight format, 1 scale format, 2 block_k, 3 block_n.
#define FMT_F32 0u
#define FMT_BF16 1u
#define FMT_F16 2u
#define FMT_E4M3 3u
#define FMT_E2M1 4u
#define SCALE_NONE 0u
#define SCALE_F32 1u
#define SCALE_E8M0 2u

float f16_value(uint h) {
    const uint e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    float v;
    if (e == 0u) {
        v = ldexp(float(m), -24);
    } else if (e == 31u) {
        v = m != 0u ? QNAN : uintBitsToFloat(0x7f800000u);
    } else {
        v = ldexp(float(m | 0x400u), int(e) - 25);
    }
    return (h & 0x8000u) != 0u ? -v : v;
}

// e4m3fn: no infinities; 0x7f/0xff are NaN.
float e4m3_value(uint b) {
    const uint e = (b >> 3) & 0xfu, m = b & 7u;
    float v;
    if (e == 15u && m == 7u) {
        v = QNAN;
    } else if (e == 0u) {
        v = ldexp(float(m), -9);
    } else {
        v = ldexp(float(8u + m), int(e) - 10);
    }
    return (b & 0x80u) != 0u ? -v : v;
}

const float E2M1_VALUES[8] = float[8](0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0);
float e2m1_value(uint nib) {
    const float v = E2M1_VALUES[nib & 7u];
    return (nib & 8u) != 0u ? -v : v;
}

float e8m0_value(uint b) { return b == 0xffu ? QNAN : ldexp(1.0, int(b) - 127); }

// Element k of the weight row starting at byte address `row`.
float weight_at(uint fmt, uint row, uint k) {
    if (fmt == FMT_F32) return LDF(WBUF, row + 4u * k);
    if (fmt == FMT_BF16) return uintBitsToFloat(LDH(WBUF, row + 2u * k) << 16);
    if (fmt == FMT_F16) return f16_value(LDH(WBUF, row + 2u * k));
    if (fmt == FMT_E4M3) return e4m3_value(LDB(WBUF, row + k));
    const uint byte = LDB(WBUF, row + (k >> 1));
    return e2m1_value((k & 1u) != 0u ? byte >> 4 : byte & 0xfu);
}

// Block scale of weight (n, k); 1 when unscaled.
float scale_at(uint n, uint k) {
    const uint sfmt = PU(1);
    if (sfmt == SCALE_NONE) return 1.0;
    const uint cell = T_OFF(SBUF) + (n / PU(3)) * T_NB(SBUF, 1);
    if (sfmt == SCALE_F32) return LDF(SBUF, cell + 4u * (k / PU(2)));
    return e8m0_value(LDB(SBUF, cell + k / PU(2)));
}

// Decoded weight: the float32 product of element and scale, as the reference computes it.
float weight_decoded(uint row, uint n, uint k) { return weight_at(PU(0), row, k) * scale_at(n, k); }
