// Shared declarations of every Mneme compute shader. One descriptor layout serves all of them:
// binding 0 is the parameter block of the dispatch, binding 1 an array of seven storage buffers
// (0 = dst, 1..6 = src0..src5). Buffers are read as 32-bit words, so any stored format (bf16,
// fp8, fp4, e8m0) is decoded by bit manipulation and no 8/16-bit storage feature is needed.
//
// Parameter block (32-bit words): [0] items in this dispatch, then per tensor slot t at
// 8 + 9t: byte offset inside its binding, ne[4], nb[4] (bytes); op parameters from word 72.

layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) readonly buffer Params { uint P[]; };
layout(std430, set = 0, binding = 1) buffer Buf { uint w[]; } B[7];

#define DST 0
#define SRC0 1
#define SRC1 2
#define SRC2 3
#define SRC3 4
#define SRC4 5
#define SRC5 6

#define T_OFF(t) P[8 + (t) * 9]
#define T_NE(t, d) P[9 + (t) * 9 + (d)]
#define T_NB(t, d) P[13 + (t) * 9 + (d)]
#define PU(i) P[72 + (i)]
#define PI(i) int(P[72 + (i)])
#define PF(i) uintBitsToFloat(P[72 + (i)])

// 32-bit loads/stores at a byte address of binding t (4-byte aligned for these).
#define LDF(t, a) uintBitsToFloat(B[t].w[(a) >> 2])
#define LDI(t, a) int(B[t].w[(a) >> 2])
#define STF(t, a, v) B[t].w[(a) >> 2] = floatBitsToUint(v)
#define STI(t, a, v) B[t].w[(a) >> 2] = uint(v)
// 8- and 16-bit loads (any byte address; 16-bit ones 2-byte aligned).
#define LDB(t, a) ((B[t].w[(a) >> 2] >> (((a) & 3u) * 8u)) & 0xffu)
#define LDH(t, a) ((B[t].w[(a) >> 2] >> (((a) & 2u) * 8u)) & 0xffffu)

// The flattened index of this invocation: dispatches wider than 65535 groups use a second dimension.
uint item_id() { return gl_GlobalInvocationID.y * (gl_NumWorkGroups.x * 64u) + gl_GlobalInvocationID.x; }
uint n_items() { return P[0]; }

// Byte address of row r (rows = ne1*ne2*ne3, flattened) of tensor slot t: any strides.
#define ROW_ADDR(t, r) row_addr(T_OFF(t), T_NE(t, 1), T_NE(t, 2), T_NB(t, 1), T_NB(t, 2), T_NB(t, 3), (r))
uint row_addr(uint off, uint ne1, uint ne2, uint nb1, uint nb2, uint nb3, uint r) {
    const uint i1 = r % ne1;
    const uint rest = r / ne1;
    return off + i1 * nb1 + (rest % ne2) * nb2 + (rest / ne2) * nb3;
}
#define ROWS(t) (T_NE(t, 1) * T_NE(t, 2) * T_NE(t, 3))
// Element i of row r of a float tensor.
#define ELEM(t, r, i) (ROW_ADDR(t, r) + (i) * T_NB(t, 0))

#define NEG_INF uintBitsToFloat(0xff800000u)
#define QNAN uintBitsToFloat(0x7fc00000u)

float sigmoid(float x) { return 1.0 / (1.0 + exp(-x)); }
