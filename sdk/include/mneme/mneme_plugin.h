/*
 * mneme_plugin.h — the backend plugin ABI (for authors of compute backends).
 *
 * A backend plugin is a shared module named `libmneme-backend-<name>.so` that exports exactly one
 * C symbol, mneme_plugin_entry_v1. It returns a static, size- and version-stamped table of
 * function pointers. The plugin never links libmneme: everything it needs from the host (logging,
 * allocation, the worker pool) comes through the mneme_host_api table it is handed.
 *
 * Versioning: MNEME_PLUGIN_ABI_MAJOR changes only with an incompatible change (and then the entry
 * symbol gets a new name). MINOR grows when fields are appended to the end of a table; a reader
 * never touches a field beyond the struct_size the other side declared.
 *
 * Execution model: the host allocates buffers through the plugin, records operations (mneme_op)
 * and submits them in order to a queue. A queue may run them asynchronously; queue_sync waits.
 * Host memory handed to buffer_upload may be reused as soon as the call returns. Transfers are
 * ordered with the queues: an upload takes effect after every op submitted before it and before
 * every op submitted after it (it may still be in flight when the call returns), and a download
 * sees every op submitted before it. The host relies on this and does not sync before uploading.
 *
 * Semantics of every op are defined by the CPU backend's reference kernels (kernels/cpu): other
 * backends are tested against them.
 */
#ifndef MNEME_PLUGIN_H
#define MNEME_PLUGIN_H

#include "mneme.h"

#define MNEME_PLUGIN_ABI_MAJOR 1
#define MNEME_PLUGIN_ABI_MINOR 1

#if defined(_WIN32)
#define MNEME_PLUGIN_EXPORT __declspec(dllexport)
#else
#define MNEME_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

#if defined(__cplusplus)
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Host services
 * ------------------------------------------------------------------------------------------- */

/** Work item for the host pool: process items [begin, end). */
typedef void(MNEME_CALL* mneme_range_fn)(void* ctx, size_t begin, size_t end);

typedef struct mneme_host_api {
    uint32_t struct_size;
    uint16_t abi_major;
    uint16_t abi_minor;
    void* host; /**< opaque; pass back on every call */
    void(MNEME_CALL* log)(void* host, mneme_log_level level, const char* message);
    void*(MNEME_CALL* alloc)(void* host, size_t size, size_t align);
    void(MNEME_CALL* free)(void* host, void* ptr);
    /**
     * Runs fn over [0, n) split into contiguous ranges of at least `grain` items on the host's
     * worker pool and returns when all are done. May run inline. Safe to call from any thread.
     */
    void(MNEME_CALL* parallel_for)(void* host, size_t n, size_t grain, mneme_range_fn fn, void* ctx);
    uint32_t n_threads; /**< workers parallel_for may use */
    uint32_t reserved0;
} mneme_host_api;

/* ---------------------------------------------------------------------------------------------
 * Data types and tensors
 * ------------------------------------------------------------------------------------------- */

typedef enum mneme_dtype {
    MNEME_DTYPE_UNDEFINED = 0,
    MNEME_DTYPE_F32 = 1,
    MNEME_DTYPE_F16 = 2,
    MNEME_DTYPE_BF16 = 3,
    MNEME_DTYPE_F64 = 4,
    MNEME_DTYPE_F8_E4M3 = 5, /**< float8 e4m3fn */
    MNEME_DTYPE_F8_E8M0 = 6, /**< unsigned power of two, 2^(b-127) */
    MNEME_DTYPE_FP4_E2M1 = 7, /**< two per byte, element 2k in the low nibble; ne counts elements */
    MNEME_DTYPE_I8 = 8,
    MNEME_DTYPE_I32 = 9,
    MNEME_DTYPE_I64 = 10,
    MNEME_DTYPE_U8 = 11,
    MNEME_DTYPE_FORCE32 = 0x7FFFFFFF
} mneme_dtype;

/** Bytes per element; 0 for FP4 (packed two per byte: a row of n takes (n + 1) / 2 bytes) and unknown types. */
static inline int64_t mneme_dtype_size(mneme_dtype t) {
    switch (t) {
        case MNEME_DTYPE_F64:
        case MNEME_DTYPE_I64: return 8;
        case MNEME_DTYPE_F32:
        case MNEME_DTYPE_I32: return 4;
        case MNEME_DTYPE_F16:
        case MNEME_DTYPE_BF16: return 2;
        case MNEME_DTYPE_F8_E4M3:
        case MNEME_DTYPE_F8_E8M0:
        case MNEME_DTYPE_I8:
        case MNEME_DTYPE_U8: return 1;
        default: return 0;
    }
}

typedef struct mneme_backend mneme_backend; /* an opened device, owned by the plugin */
typedef struct mneme_buffer mneme_buffer;   /* a memory allocation of a backend */
typedef struct mneme_queue mneme_queue;     /* an in-order stream of operations */

#define MNEME_MAX_DIMS 4

/**
 * A strided view into a buffer. ne[0] is the innermost (contiguous) dimension, as in ggml:
 * element (i0, i1, i2, i3) lives at byte offset + i0*nb[0] + i1*nb[1] + i2*nb[2] + i3*nb[3].
 * Unused dimensions have ne = 1. For FP4 nb[0] is 0 and rows must be contiguous.
 */
typedef struct mneme_tensor {
    mneme_buffer* buffer;
    uint64_t offset;
    mneme_dtype dtype;
    uint32_t reserved0;
    int64_t ne[MNEME_MAX_DIMS];
    int64_t nb[MNEME_MAX_DIMS];
} mneme_tensor;

/* ---------------------------------------------------------------------------------------------
 * Operations. Shapes are given as [ne0, ne1, ...] (innermost first). "rows" = product of ne[1..3].
 * ------------------------------------------------------------------------------------------- */

typedef enum mneme_op_type {
    MNEME_OP_NONE = 0,
    /** dst[r, n] = alpha * sum_k src0[r, k] * W[n, k]. src0: activations [K, R]; src1: weight
     *  [K, N] in its stored dtype (F32/F64/BF16/F16/F8_E4M3/FP4_E2M1); src2 (optional): block
     *  scales [ceil(K/bk), ceil(N/bn)] F32 or F8_E8M0; dst: [N, R]. Params: mneme_op_matmul. */
    MNEME_OP_MATMUL = 1,
    /** dst = src1 * src0 / sqrt(mean(src0^2) + eps) per row; src1 (optional): weight [ne0]. */
    MNEME_OP_RMS_NORM = 2,
    /** Rotary embedding on a slice of each row. src0/dst: [D, heads, T]; src1: cos [R/2, T];
     *  src2: sin [R/2, T]. Params: mneme_op_rope. */
    MNEME_OP_ROPE = 3,
    /** dst = softmax(scale * src0) over ne0, per row; -inf entries get probability 0. */
    MNEME_OP_SOFTMAX = 4,
    /** dst = silu(min(src0, L)) * clamp(src1, -L, L) (no clamp when limit == 0). src2 (optional,
     *  ABI 1.1): per-row weights [rows]; row r of dst is multiplied by src2[r] (the V4 routing weight,
     *  applied to the hidden before the down projection). */
    MNEME_OP_SWIGLU = 5,
    /** dst (I32) [k, rows] = indices of the k largest src0 values per row, in descending order;
     *  equal values are ordered by lower index first. Params: mneme_op_topk. */
    MNEME_OP_TOPK = 6,
    /** dst = src0 + src1 (same shape, or src1 broadcast along rows when src1 has one row). */
    MNEME_OP_ADD = 7,
    /** dst = src0 * src1 (same broadcasting as ADD). */
    MNEME_OP_MUL = 8,
    /** dst = src0 * scale + bias. Params: mneme_op_scale. */
    MNEME_OP_SCALE = 9,
    /** dst = src0 converted to dst's dtype (element-wise copy; shapes equal). */
    MNEME_OP_COPY = 10,
    /** dst[:, r] = src0[:, src1[r]] (row gather: src0 is a table, src1 I32/I64 indices). */
    MNEME_OP_GET_ROWS = 11,
    /** Quantise-dequantise round trip per row, per block of channels (the QAT simulation of
     *  V3.2/V4 activations). src0/dst same shape, may alias. Params: mneme_op_quant. */
    MNEME_OP_QUANT_ROUNDTRIP = 12,
    /** dst = (src0 - mean) / sqrt(var + eps) * src1 + src2 per row (src1/src2 optional). Params: mneme_op_norm. */
    MNEME_OP_LAYER_NORM = 13,
    /** Per row: dst = src0 · H_n · n^-1/2, H_n the Sylvester Hadamard matrix, n = ne0 (a power of two). */
    MNEME_OP_HADAMARD = 14,
    /** Attention with one shared key/value set (MQA): src0 q [Dk, H, S]; src1 keys [Dk, T]; src2 values
     *  [Dv, T]; src3 (optional) I32 key indices [n, S] (negative or future entries are ignored);
     *  src4 (optional) sink logits [H]; dst [Dv, H, S]. Query s sits at position start_pos + s; key
     *  row r at position key_start + r. Without indices it attends to every causal key (inside the
     *  window when one is set). The sink adds exp(sink[h] - max) to the denominator only.
     *  ABI 1.1, compressed second source (DeepSeek-V4): src5 (optional) entries [Dk, Tc] that are both
     *  keys and values (Dk == Dv); entry j summarises positions [j*ratio, (j+1)*ratio) and is visible
     *  to a query at position pos only once complete (j < (pos+1) / ratio). With src5, src3 indexes
     *  src5 (distinct entries, e.g. a top-k) and src1 is attended over its causal window; without
     *  src3 every complete entry is attended. One softmax runs over window keys then entries.
     *  Params: mneme_op_attention. */
    MNEME_OP_ATTENTION = 15,
    /** Lightning-indexer scores: dst[j, s] = sum_h src1[h, s] * relu(src0[:, h, s] . src2[:, j]) for
     *  causal j (j < (start_pos + s + 1) / ratio), else -inf. src0 q [D, Hi, S]; src1 head weights
     *  [Hi, S]; src2 keys [D, T]; dst [T, S]. Keys have dst's dtype, or BF16 with an F32 dst where
     *  supports_op accepts it (widened exactly; the host then writes them with COPY to BF16).
     *  Params: mneme_op_indexer. */
    MNEME_OP_INDEXER_SCORES = 16,
    /** dst[:, src1[r]] += src2[r] * src0[:, r] for every r, in order (MoE combine). src1 I32 [n]; src2 [n]. */
    MNEME_OP_ADD_ROWS_SCALED = 17,
    /* ABI 1.1: the DeepSeek-V4 / Engram ops. Why these and no more: everything per-element or
     * per-row of V4 that the existing ops cannot express without host round trips. mHC is two ops
     * (coefficients from the mixes — sigmoids and Sinkhorn on a few numbers per token — and a
     * general stream mix used for both the collapse and the expand), because the mixes themselves
     * are an RMS_NORM and a MATMUL. The compressor's gated pooling is one op over [held | new] rows,
     * so decoding one token and prefilling a sequence run the same code. V4 attention reuses
     * ATTENTION with a second, block-causal source instead of concatenating the window and the
     * compressed entries into one cache (their masks differ, and the entries grow separately).
     * The Engram gate fuses two RMS norms, a dot product and the signed-sqrt sigmoid per stream;
     * the short convolution reads its history rows from the same input. */
    /** (ABI 1.1) Manifold-constrained hyper-connection coefficients (DeepSeek-V4 mHC) from the mixes
     *  m = fn . rmsnorm(vec(X)) of each token. src0 mixes [M, S]; src1 scale [3] (site) or [1] (head);
     *  src2 base [M]; dst [M, S]. With n = n_streams:
     *  site (M = (2+n)n): dst[i] = sigmoid(m_i*scale0 + base_i) + eps (pre, i < n);
     *  dst[n+j] = post_mult * sigmoid(m_{n+j}*scale1 + base_{n+j}) (post);
     *  dst[2n + i*n + j] = C_ij where C = softmax_j(m*scale2 + base) + eps, then column-normalised
     *  C /= (sum_i C + eps), then (iters - 1) times a row then a column normalisation, each
     *  x / (sum + eps) (comb, row-major, ends on a column normalisation).
     *  head (M = n): dst[i] = sigmoid(m_i*scale0 + base_i) + eps only. Params: mneme_op_hc. */
    MNEME_OP_HC_COEFFS = 18,
    /** (ABI 1.1) Mixes n_in residual streams into n_out: dst[:, j, s] = sum_i c[weight_offset + i*n_out + j, s]
     *  * src0[:, i, s] (+ c[bias_offset + j, s] * src2[:, s] when src2 is given). src0 streams [D, n_in, S];
     *  src1 coefficients c [M, S]; src2 (optional) update [D, S]; dst [D, n_out, S], not aliasing src0.
     *  mHC collapse: n_out = 1 with the pre weights; mHC expand: n_out = n with comb^T and post * update.
     *  Params: mneme_op_stream_mix. */
    MNEME_OP_STREAM_MIX = 19,
    /** (ABI 1.1) Gated pooling of blocks of `ratio` tokens (DeepSeek-V4 compressor). src0 values a [C, R],
     *  src1 gate scores b [C, R], src2 position embedding ape [C, ratio]; row r of a/b is position
     *  first_pos + r. dst [W, NB]: column k pools block j = first_block + k. Plain (C = W): candidates
     *  are the block's tokens, channel d. Overlap (C = 2W): the tokens of block j-1 on channel d (when
     *  j > 0), then those of block j on channel W + d. Per channel, with s = b + ape[pos % ratio]:
     *  dst = sum a * exp(s - max s) / sum exp(s - max s). Params: mneme_op_compress. */
    MNEME_OP_COMPRESS_POOL = 20,
    /** (ABI 1.1) Engram context gate. src0 streams x [D, n, S]; src1 projection kv [(n+1)*D, S], keys of
     *  stream m in rows [m*D, (m+1)*D), the shared value last; src2 query norm weights [D, n]; src3 key
     *  norm weights [D, n]; dst [D, n, S]. g = <rmsnorm(key_m) * src3[:, m], rmsnorm(x_m) * src2[:, m]> / sqrt(D),
     *  g = sign(g) * sqrt(max(|g|, clamp)), dst[:, m, s] = sigmoid(g) * value. Params: mneme_op_engram_gate. */
    MNEME_OP_ENGRAM_GATE = 21,
    /** (ABI 1.1) Causal depthwise convolution over tokens. src0 [C, H + S]: H rows of history, then the S
     *  new rows; src1 weights [k, C] (tap k-1 multiplies the current token); dst [C, S]:
     *  dst[c, t] = act(sum_i src1[i, c] * src0[c, H + t - (k-1-i)*dilation]), H >= (k-1)*dilation,
     *  act = SiLU when `silu` is set, else identity. Params: mneme_op_conv. */
    MNEME_OP_CAUSAL_CONV = 22,
    MNEME_OP_TYPE_FORCE32 = 0x7FFFFFFF
} mneme_op_type;

#define MNEME_OP_MAX_SRC 6

typedef struct mneme_op {
    uint32_t struct_size; /**< sizeof(mneme_op) */
    mneme_op_type type;
    mneme_tensor dst;
    mneme_tensor src[MNEME_OP_MAX_SRC];
    uint32_t n_src;
    uint32_t params_size;
    const void* params; /**< op-specific struct below; borrowed during queue_submit */
} mneme_op;

typedef struct mneme_op_matmul {
    double alpha;         /**< output scale (1.0 = none) */
    uint32_t block_k;     /**< weight scale block along K (e.g. 128), when src2 is given */
    uint32_t block_n;     /**< weight scale block along N */
} mneme_op_matmul;

typedef struct mneme_op_rms_norm {
    double eps;
} mneme_op_rms_norm;

typedef enum mneme_rope_layout {
    MNEME_ROPE_INTERLEAVED = 0, /**< pairs (2i, 2i+1) — GPT-J style */
    MNEME_ROPE_HALF_SPLIT = 1,  /**< pairs (i, i + R/2) — NeoX style */
    MNEME_ROPE_LAYOUT_FORCE32 = 0x7FFFFFFF
} mneme_rope_layout;

typedef struct mneme_op_rope {
    mneme_rope_layout layout;
    uint32_t offset;   /**< first dimension of the rotated slice within ne0 */
    uint32_t n_rot;    /**< width R of the rotated slice (even) */
    mneme_bool inverse; /**< rotate by -angle */
} mneme_op_rope;

typedef struct mneme_op_softmax {
    double scale;
} mneme_op_softmax;

typedef struct mneme_op_swiglu {
    double limit; /**< 0 = no clamp */
} mneme_op_swiglu;

typedef struct mneme_op_topk {
    uint32_t k;
} mneme_op_topk;

typedef struct mneme_op_scale {
    double scale;
    double bias;
} mneme_op_scale;

typedef enum mneme_quant_scale {
    MNEME_QUANT_SCALE_POW2 = 0, /**< ue8m0: the scale is rounded up to a power of two */
    MNEME_QUANT_SCALE_FORCE32 = 0x7FFFFFFF
} mneme_quant_scale;

typedef struct mneme_op_quant {
    mneme_dtype format;           /**< MNEME_DTYPE_F8_E4M3 or MNEME_DTYPE_FP4_E2M1 */
    uint32_t block;               /**< channels per scale; a final partial block uses the channels present */
    mneme_quant_scale scale_mode;
    uint32_t reserved0;
} mneme_op_quant;

typedef struct mneme_op_norm {
    double eps;
} mneme_op_norm;

typedef struct mneme_op_attention {
    double scale;       /**< multiplies q.k before the softmax */
    int64_t start_pos;  /**< absolute position of query 0 */
    int64_t window;     /**< > 0: without indices, attend only to the last `window` positions */
    /* ABI 1.1 (a reader uses these only when params_size covers them; otherwise both are 0). */
    int64_t key_start;  /**< absolute position of key row 0 */
    int64_t ratio;      /**< positions per compressed entry of src5 (> 0 when src5 is given) */
} mneme_op_attention;

typedef struct mneme_op_hc {
    uint32_t n_streams;      /**< n = hc_mult */
    uint32_t sinkhorn_iters; /**< >= 1 */
    double eps;              /**< hc_eps */
    double post_mult;        /**< 2.0 in DeepSeek-V4 */
} mneme_op_hc;

typedef struct mneme_op_stream_mix {
    uint32_t n_in, n_out;
    uint32_t weight_offset; /**< row of c holding the weight of (stream 0 -> output 0) */
    uint32_t bias_offset;   /**< row of c holding the weight of src2 for output 0 */
} mneme_op_stream_mix;

typedef struct mneme_op_compress {
    int64_t ratio;
    int64_t first_pos;   /**< position of row 0 of src0/src1 */
    int64_t first_block; /**< block pooled into dst column 0 */
    mneme_bool overlap;
    uint32_t reserved0;
} mneme_op_compress;

typedef struct mneme_op_engram_gate {
    double eps;   /**< RMSNorm epsilon */
    double clamp; /**< lower bound of |g| under the signed square root */
} mneme_op_engram_gate;

typedef struct mneme_op_conv {
    uint32_t dilation;
    mneme_bool silu;
} mneme_op_conv;

typedef struct mneme_op_indexer {
    int64_t start_pos;
    int64_t ratio; /**< keys are blocks of `ratio` tokens (1 = tokens) */
} mneme_op_indexer;

/* ---------------------------------------------------------------------------------------------
 * Probe and devices
 * ------------------------------------------------------------------------------------------- */

typedef struct mneme_plugin_probe_info {
    uint32_t struct_size;
    int32_t score;          /**< 0 = unusable on this machine; higher = preferred */
    uint32_t device_count;
    uint32_t reserved0;
    char message[256];      /**< NUL-terminated detail, e.g. the driver error */
} mneme_plugin_probe_info;

typedef struct mneme_plugin_device_info {
    uint32_t struct_size;
    mneme_device_type type;
    char name[128];
    uint64_t memory_total_bytes;
    uint64_t memory_free_bytes;
} mneme_plugin_device_info;

/** Buffer flags. */
#define MNEME_BUFFER_HOST_VISIBLE 0x1u /**< the host wants buffer_host_ptr to work */

/* ---------------------------------------------------------------------------------------------
 * The plugin table
 * ------------------------------------------------------------------------------------------- */

typedef struct mneme_plugin_v1 {
    uint32_t struct_size;
    uint16_t abi_major;
    uint16_t abi_minor;
    const char* name;    /**< "cpu", "vulkan", "cuda" */
    const char* version; /**< free text */

    /* Phase 1: cheap and side-effect free. Returns an error status only on a real failure
     * (a missing driver is score 0 / device_count 0, not an error). */
    mneme_status(MNEME_CALL* probe)(const mneme_host_api* host, mneme_plugin_probe_info* out);
    mneme_status(MNEME_CALL* device_info)(const mneme_host_api* host, uint32_t device, mneme_plugin_device_info* out);

    /* Phase 2: an opened device. `host` outlives the backend. */
    mneme_status(MNEME_CALL* open)(const mneme_host_api* host, uint32_t device, mneme_backend** out);
    void(MNEME_CALL* close)(mneme_backend* backend);

    mneme_status(MNEME_CALL* buffer_alloc)(mneme_backend* backend, uint64_t size, uint32_t flags, mneme_buffer** out);
    /** Optional (may be NULL): wraps host memory the host keeps alive (e.g. a mapped file) without copying.
     *  While wrapped, the memory changes only through this table (buffer_upload, ops writing into it):
     *  a plugin may remember what it found in it (the CPU backend: that FP8 weights hold no NaN code). */
    mneme_status(MNEME_CALL* buffer_wrap_host)(mneme_backend* backend, void* ptr, uint64_t size, mneme_buffer** out);
    void(MNEME_CALL* buffer_free)(mneme_backend* backend, mneme_buffer* buffer);
    /** Host address of a host-visible buffer, or NULL. */
    void*(MNEME_CALL* buffer_host_ptr)(mneme_backend* backend, mneme_buffer* buffer);
    mneme_status(MNEME_CALL* buffer_upload)(mneme_backend* backend, mneme_buffer* buffer, uint64_t offset,
                                            const void* src, uint64_t size);
    mneme_status(MNEME_CALL* buffer_download)(mneme_backend* backend, mneme_buffer* buffer, uint64_t offset, void* dst,
                                              uint64_t size);

    mneme_status(MNEME_CALL* queue_create)(mneme_backend* backend, mneme_queue** out);
    void(MNEME_CALL* queue_destroy)(mneme_backend* backend, mneme_queue* queue);
    /** Enqueues ops in order. Errors in argument checking are returned here; execution errors
     *  may surface at the next queue_sync. */
    mneme_status(MNEME_CALL* queue_submit)(mneme_backend* backend, mneme_queue* queue, const mneme_op* ops,
                                           size_t n_ops);
    mneme_status(MNEME_CALL* queue_sync)(mneme_backend* backend, mneme_queue* queue);

    /** MNEME_TRUE if the backend can run this op with these dtypes and shapes. */
    mneme_bool(MNEME_CALL* supports_op)(mneme_backend* backend, const mneme_op* op);

    /** Thread-local detail of the last error returned by this plugin ("" if none). */
    const char*(MNEME_CALL* last_error)(void);
    /* ABI 1.x additions are appended here. */
} mneme_plugin_v1;

/** Size of the 1.0 table: the host requires at least this much. */
#define MNEME_PLUGIN_V1_0_SIZE (offsetof(mneme_plugin_v1, last_error) + sizeof(void*))

/** The one symbol a plugin exports. Returns NULL when it cannot serve the host's major version. */
typedef const mneme_plugin_v1*(MNEME_CALL* mneme_plugin_entry_v1_fn)(uint32_t host_abi_major,
                                                                     uint32_t host_abi_minor);
#define MNEME_PLUGIN_ENTRY_V1_SYMBOL "mneme_plugin_entry_v1"

#if defined(__cplusplus)
}
#endif

#endif /* MNEME_PLUGIN_H */
