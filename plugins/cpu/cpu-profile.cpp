#include "cpu-profile.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "mneme_kernels/cpu-fast.h"

namespace mneme::cpu {
namespace {

const char* op_name(mneme_op_type t) {
    switch (t) {
        case MNEME_OP_MATMUL: return "matmul";
        case MNEME_OP_RMS_NORM: return "rms_norm";
        case MNEME_OP_ROPE: return "rope";
        case MNEME_OP_SOFTMAX: return "softmax";
        case MNEME_OP_SWIGLU: return "swiglu";
        case MNEME_OP_TOPK: return "topk";
        case MNEME_OP_ADD: return "add";
        case MNEME_OP_MUL: return "mul";
        case MNEME_OP_SCALE: return "scale";
        case MNEME_OP_COPY: return "copy";
        case MNEME_OP_GET_ROWS: return "get_rows";
        case MNEME_OP_QUANT_ROUNDTRIP: return "quant_roundtrip";
        case MNEME_OP_LAYER_NORM: return "layer_norm";
        case MNEME_OP_HADAMARD: return "hadamard";
        case MNEME_OP_ATTENTION: return "attention";
        case MNEME_OP_INDEXER_SCORES: return "indexer_scores";
        case MNEME_OP_ADD_ROWS_SCALED: return "add_rows_scaled";
        case MNEME_OP_HC_COEFFS: return "hc_coeffs";
        case MNEME_OP_STREAM_MIX: return "stream_mix";
        case MNEME_OP_COMPRESS_POOL: return "compress_pool";
        case MNEME_OP_ENGRAM_GATE: return "engram_gate";
        case MNEME_OP_CAUSAL_CONV: return "causal_conv";
        default: return "other";
    }
}

const char* dtype_name(mneme_dtype d) {
    switch (d) {
        case MNEME_DTYPE_F32: return "f32";
        case MNEME_DTYPE_F16: return "f16";
        case MNEME_DTYPE_BF16: return "bf16";
        case MNEME_DTYPE_F64: return "f64";
        case MNEME_DTYPE_F8_E4M3: return "e4m3";
        case MNEME_DTYPE_FP4_E2M1: return "e2m1";
        default: return "?";
    }
}

// MNEME_CPU_PROFILE=shapes: matmuls are told apart by their weight's shape as well.
bool by_shape() {
    static const bool on = [] {
        const char* v = std::getenv("MNEME_CPU_PROFILE");
        return v && std::strcmp(v, "shapes") == 0;
    }();
    return on;
}

std::string kind_of(const mneme_op& op) {
    if (op.type != MNEME_OP_MATMUL || op.n_src < 2) return op_name(op.type);
    // src[0] = activations [K, rows...], src[1] = weight [K, N]; see cpu-dispatch.cpp.
    const int64_t rows = op.src[0].ne[1] * op.src[0].ne[2] * op.src[0].ne[3];
    const char* size = rows <= 4 ? "rows 1-4" : rows <= 16 ? "rows 5-16" : "rows 17+";
    const int64_t w = op.src[1].ne[0] * op.src[1].ne[1];
    const char* wsz = w <= (64 << 10) ? " w<=64K" : w <= (256 << 10) ? " w<=256K" : w <= (1 << 20) ? " w<=1M" : " w>1M";
    std::string kind = std::string("matmul ") + dtype_name(op.src[1].dtype) + " " + size + wsz;
    if (by_shape()) kind += " " + std::to_string(op.src[1].ne[1]) + "x" + std::to_string(op.src[1].ne[0]);
    return kind;
}

}  // namespace

op_profile::op_profile() {
    const char* v = std::getenv("MNEME_CPU_PROFILE");
    enabled_ = v && *v && std::strcmp(v, "0") != 0;
}

op_profile::~op_profile() {
    if (!enabled_ || by_kind_.empty()) return;
    std::vector<std::pair<std::string, tally>> rows(by_kind_.begin(), by_kind_.end());
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.ns > b.second.ns; });
    uint64_t total = 0;
    for (const auto& r : rows) total += r.second.ns;
    std::fprintf(stderr, "cpu backend profile (MNEME_CPU_PROFILE): %.1f ms in ops; decode products prefetch rows: %s\n",
                 static_cast<double>(total) / 1e6, mneme::kernels::fast::row_prefetch_summary().c_str());
    std::fprintf(stderr, "  %-37s %10s %12s %7s %12s %9s\n", "op", "calls", "ms", "%", "us/call", "GFLOP/s");
    for (const auto& [kind, t] : rows) {
        std::fprintf(stderr, "  %-37s %10llu %12.2f %6.1f%% %12.2f", kind.c_str(),
                     static_cast<unsigned long long>(t.calls), static_cast<double>(t.ns) / 1e6,
                     total ? 100.0 * static_cast<double>(t.ns) / static_cast<double>(total) : 0.0,
                     static_cast<double>(t.ns) / 1e3 / static_cast<double>(t.calls));
        if (t.flops > 0 && t.ns > 0) std::fprintf(stderr, " %9.1f", t.flops / static_cast<double>(t.ns));
        std::fprintf(stderr, "\n");
    }
    for (int decode = 0; decode < 2; ++decode) {
        const tally& t = host_[decode];
        if (t.calls == 0) continue;
        std::fprintf(stderr, "  host between submits%-17s %10llu %12.2f %7s %12.2f\n", decode ? " (decode)" : "",
                     static_cast<unsigned long long>(t.calls), static_cast<double>(t.ns) / 1e6, "",
                     static_cast<double>(t.ns) / 1e3 / static_cast<double>(t.calls));
    }
    std::vector<std::pair<std::string, tally>> gaps(decode_gaps_.begin(), decode_gaps_.end());
    std::sort(gaps.begin(), gaps.end(), [](const auto& a, const auto& b) { return a.second.ns > b.second.ns; });
    if (gaps.size() > 8) gaps.resize(8);
    for (const auto& [edge, t] : gaps) {
        std::fprintf(stderr, "    between %-44s %10llu %12.2f %7s %12.2f\n", edge.c_str(),
                     static_cast<unsigned long long>(t.calls), static_cast<double>(t.ns) / 1e6, "",
                     static_cast<double>(t.ns) / 1e3 / static_cast<double>(t.calls));
    }
}

void op_profile::submit_started(uint64_t now_ns, const mneme_op& first) {
    std::lock_guard<std::mutex> lock(mu_);
    if (last_end_ns_ == 0 || now_ns < last_end_ns_) return;
    // A prompt's first submit opens with its embedding gather of several rows: the wait before it
    // (a session set up, the caller's own work) is no decode step's.
    if (first.type == MNEME_OP_GET_ROWS && first.dst.ne[1] * first.dst.ne[2] * first.dst.ne[3] > 1) in_decode_ = false;
    // Counted with the pass of the ops before it (a decode step's sampling follows its last op).
    tally& t = host_[in_decode_ ? 1 : 0];
    ++t.calls;
    t.ns += now_ns - last_end_ns_;
    if (in_decode_) {
        tally& e = decode_gaps_[last_kind_ + " -> " + kind_of(first)];
        ++e.calls;
        e.ns += now_ns - last_end_ns_;
    }
}

void op_profile::submit_ended(uint64_t now_ns, const mneme_op& last) {
    std::string kind = kind_of(last);
    std::lock_guard<std::mutex> lock(mu_);
    last_end_ns_ = now_ns;
    last_kind_ = std::move(kind);
}

void op_profile::record(const mneme_op& op, uint64_t ns) {
    std::string kind = kind_of(op);
    std::lock_guard<std::mutex> lock(mu_);
    // Which pass an op belongs to is not in the op itself; RMS norms run over every token of the
    // pass (hidden state, latents), so the last one's row count tells a 1-token decode pass from
    // prefill. Matmul row counts cannot: a prefill pass gives some experts a single row.
    if (op.type == MNEME_OP_RMS_NORM && op.n_src >= 1) {
        in_decode_ = op.src[0].ne[1] * op.src[0].ne[2] * op.src[0].ne[3] == 1;
    }
    // A pass opens with its embedding gather, before any norm: one of several rows starts a prefill
    // (counted under the previous pass, one 32K-token gather made every decode GET_ROWS look slow).
    if (op.type == MNEME_OP_GET_ROWS && op.dst.ne[1] * op.dst.ne[2] * op.dst.ne[3] > 1) in_decode_ = false;
    if (in_decode_) kind += " (decode)";
    double flops = 0;
    if (op.type == MNEME_OP_MATMUL && op.n_src >= 2) {
        const double rows = static_cast<double>(op.src[0].ne[1] * op.src[0].ne[2] * op.src[0].ne[3]);
        flops = 2.0 * rows * static_cast<double>(op.src[1].ne[0]) * static_cast<double>(op.src[1].ne[1]);
    }
    tally& t = by_kind_[kind];
    ++t.calls;
    t.ns += ns;
    t.flops += flops;
}

}  // namespace mneme::cpu
