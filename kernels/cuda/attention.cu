// ATTENTION (single shared key/value set, MQA), with index lists, sink, window and the compressed
// second source of DeepSeek-V4. One block per (query, group of heads); its warps split the candidate
// keys and each keeps an online softmax per head (running max, denominator, weighted value sum in
// registers); the warps' partial results are merged at the end. Mathematically the CPU reference's
//   out = sum_j exp(s_j - m) v_j / (exp(sink - m) + sum_j exp(s_j - m)),
// summed in a different order.
//
// Candidates, in the reference's order (which only changes the summation order here):
//  * window part: with an index list and no compressed source, the listed keys that exist and are
//    not in the future (duplicates count twice, as in the reference); otherwise every key in
//    [max(pos - window + 1, key_start), min(pos, key_start + n_keys - 1)];
//  * compressed part (src5): the complete entries j < min(n_comp, (pos + 1) / ratio), all of them or
//    those on the index list.
#include "common.cuh"

namespace mneme::kernels::cuda {
namespace {

using namespace detail;

constexpr int k_warps = 4;

struct candidates {
    int64_t n_window = 0, window_first = 0;  // window part: a range, or the index list
    int64_t n_comp = 0, comp_done = 0;       // compressed part: a range, or the index list
    const int32_t* list = nullptr;           // this query's index list, or null
};

__device__ candidates candidates_of(const attention_args& a, int64_t s) {
    candidates c;
    const int64_t pos = a.start_pos + s;
    if (a.indices) c.list = a.indices + s * a.n_indices;
    if (c.list && !a.comp) {
        c.n_window = a.n_indices;
    } else {
        int64_t first = a.window > 0 ? (pos - a.window + 1 > 0 ? pos - a.window + 1 : 0) : 0;
        if (first < a.key_start) first = a.key_start;
        const int64_t last = pos < a.key_start + a.n_keys - 1 ? pos : a.key_start + a.n_keys - 1;
        c.window_first = first;
        c.n_window = last >= first ? last - first + 1 : 0;
    }
    if (a.comp) {
        const int64_t complete = (pos + 1) / a.ratio;
        c.comp_done = complete < a.n_comp ? complete : a.n_comp;
        c.n_comp = c.list ? a.n_indices : c.comp_done;
    }
    return c;
}

// Key and value rows of candidate j, or false when the candidate is masked out.
__device__ __forceinline__ bool candidate_rows(const attention_args& a, const candidates& c, int64_t s, int64_t j,
                                               const float* k, const float* v, const float*& kr, const float*& vr) {
    if (j < c.n_window) {
        int64_t row;
        if (c.list && !a.comp) {
            row = c.list[j];
            // The causal mask applies again after selection (a top-k may pick future slots).
            if (row < 0 || row >= a.n_keys || a.key_start + row > a.start_pos + s) return false;
        } else {
            row = c.window_first + j - a.key_start;
        }
        kr = k + row * a.k_stride;
        vr = v + row * a.v_stride;
        return true;
    }
    const int64_t e = c.list ? c.list[j - c.n_window] : j - c.n_window;
    if (e < 0 || e >= c.comp_done) return false;
    kr = vr = a.comp + e * a.comp_stride;
    return true;
}

// One block per (query, group of G heads): the heads share the key and value rows (MQA), so each
// row is read once per group instead of once per head. VPL: value elements per lane (dv <= 32 * VPL).
template <int VPL, int G>
__global__ void __launch_bounds__(k_warps * 32)
    attention_kernel(attention_args a, int64_t groups, const float* __restrict__ q, const float* __restrict__ k,
                     const float* __restrict__ v, const float* __restrict__ sink, float* __restrict__ out) {
    extern __shared__ float smem[];
    float* qs = smem;                           // [G][dk]
    float* part = qs + G * a.dk;                // [k_warps][G][dv] partial value sums
    float* part_m = part + k_warps * G * a.dv;  // [k_warps][G] running maxima
    float* part_l = part_m + k_warps * G;       // [k_warps][G] denominators
    float* part_n = part_l + k_warps * G;       // [k_warps] candidates seen (as float)
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int64_t s = blockIdx.x / groups, h0 = (blockIdx.x % groups) * G;
    // Heads past the last (when G does not divide H) compute on zeros and are not written.
    for (int64_t i = threadIdx.x; i < G * a.dk; i += blockDim.x) {
        const int64_t g = i / a.dk, c = i % a.dk;
        qs[i] = h0 + g < a.heads ? q[s * a.q_stride + (h0 + g) * a.q_head_stride + c] : 0.0f;
    }
    __syncthreads();

    const candidates cand = candidates_of(a, s);
    float m[G], l[G], acc[G][VPL];
#pragma unroll
    for (int g = 0; g < G; ++g) {
        m[g] = -k_inf;
        l[g] = 0.0f;
#pragma unroll
        for (int i = 0; i < VPL; ++i) acc[g][i] = 0.0f;
    }
    float seen = 0.0f;
    for (int64_t j = warp; j < cand.n_window + cand.n_comp; j += k_warps) {
        const float *kr, *vr;
        if (!candidate_rows(a, cand, s, j, k, v, kr, vr)) continue;  // uniform across the warp
        float dot[G];
#pragma unroll
        for (int g = 0; g < G; ++g) dot[g] = 0.0f;
        for (int64_t c = lane; c < a.dk; c += 32) {
            const float kc = kr[c];
#pragma unroll
            for (int g = 0; g < G; ++g) dot[g] += qs[g * a.dk + c] * kc;
        }
        float corr[G], p[G];
#pragma unroll
        for (int g = 0; g < G; ++g) {
            const float score = warp_sum(dot[g]) * a.scale;
            const float m_new = fmaxf(m[g], score);
            corr[g] = expf(m[g] - m_new);
            p[g] = expf(score - m_new);
            l[g] = l[g] * corr[g] + p[g];
            m[g] = m_new;
        }
#pragma unroll
        for (int i = 0; i < VPL; ++i) {
            const int64_t c = lane + 32 * i;
            if (c < a.dv) {
                const float vc = vr[c];
#pragma unroll
                for (int g = 0; g < G; ++g) acc[g][i] = acc[g][i] * corr[g] + p[g] * vc;
            }
        }
        seen += 1.0f;
    }
#pragma unroll
    for (int g = 0; g < G; ++g) {
#pragma unroll
        for (int i = 0; i < VPL; ++i) {
            const int64_t c = lane + 32 * i;
            if (c < a.dv) part[(warp * G + g) * a.dv + c] = acc[g][i];
        }
        if (lane == 0) {
            part_m[warp * G + g] = m[g];
            part_l[warp * G + g] = l[g];
        }
    }
    if (lane == 0) part_n[warp] = seen;
    __syncthreads();

    float total = 0.0f;
    for (int w = 0; w < k_warps; ++w) total += part_n[w];
    for (int g = 0; g < G; ++g) {
        const int64_t h = h0 + g;
        if (h >= a.heads) break;
        float* o = out + s * a.out_stride + h * a.out_head_stride;
        if (total == 0.0f) {  // nothing visible: zeros, and the sink is not used
            for (int64_t c = threadIdx.x; c < a.dv; c += blockDim.x) o[c] = 0.0f;
            continue;
        }
        float big_m = -k_inf;
        for (int w = 0; w < k_warps; ++w) {
            if (part_n[w] > 0.0f) big_m = fmaxf(big_m, part_m[w * G + g]);
        }
        float weight[k_warps];
        float denom = sink ? expf(sink[h] - big_m) : 0.0f;  // the sink joins the denominator only
        for (int w = 0; w < k_warps; ++w) {
            weight[w] = part_n[w] > 0.0f ? expf(part_m[w * G + g] - big_m) : 0.0f;
            denom += part_l[w * G + g] * weight[w];
        }
        for (int64_t c = threadIdx.x; c < a.dv; c += blockDim.x) {
            float sum = 0.0f;
            for (int w = 0; w < k_warps; ++w) sum += part[(w * G + g) * a.dv + c] * weight[w];
            o[c] = sum / denom;
        }
    }
}

template <int VPL, int G>
void launch(cudaStream_t st, const attention_args& a, const float* q, const float* k, const float* v, const float* sink,
            float* out, size_t shared) {
    const int64_t groups = (a.heads + G - 1) / G;
    attention_kernel<VPL, G>
        <<<static_cast<unsigned>(a.queries * groups), k_warps * 32, shared, st>>>(a, groups, q, k, v, sink, out);
}

}  // namespace

cudaError_t attention(cudaStream_t st, const attention_args& a, const float* q, const float* k, const float* v,
                      const float* sink, float* out) {
    if (a.queries * a.heads < 1) return cudaSuccess;
    if (a.dk < 1 || a.dk > k_attention_dk_max || a.dv < 1 || a.dv > k_attention_dv_max ||
        a.queries * a.heads > 0x7fffffff || (a.comp && a.ratio < 1)) {
        return cudaErrorInvalidValue;
    }
    // Groups of 4 heads where the queries and partial sums fit the 48 KiB of shared memory every GPU
    // grants without opting in (and the value row fits the registers); single heads otherwise, which
    // need at most 16 KiB of query plus 16 KiB of partial sums.
    auto shared_for = [&](int64_t g) {
        return sizeof(float) * static_cast<size_t>(g * a.dk + k_warps * g * a.dv + 2 * k_warps * g + k_warps);
    };
    const bool grouped = a.heads > 1 && a.dv <= 512 && shared_for(4) <= 48 * 1024;
    if (grouped) {
        if (a.dv <= 128) {
            launch<4, 4>(st, a, q, k, v, sink, out, shared_for(4));
        } else {
            launch<16, 4>(st, a, q, k, v, sink, out, shared_for(4));
        }
    } else if (a.dv <= 128) {
        launch<4, 1>(st, a, q, k, v, sink, out, shared_for(1));
    } else if (a.dv <= 512) {
        launch<16, 1>(st, a, q, k, v, sink, out, shared_for(1));
    } else {
        launch<32, 1>(st, a, q, k, v, sink, out, shared_for(1));
    }
    return cudaGetLastError();
}

}  // namespace mneme::kernels::cuda
