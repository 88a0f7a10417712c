#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "mneme_kernels/cpu-ops.h"

namespace mneme::kernels {

template <class T>
void attention(const exec_ctx& ex, const attention_args& a, const T* q, const T* k, const T* v, const T* sink, T* out) {
    const T* comp = static_cast<const T*>(a.comp);
    parallel(ex, static_cast<std::size_t>(a.queries * a.heads), 1, [&](std::size_t i0, std::size_t i1) {
        // One softmax over the window keys (rows of k/v) followed by the compressed entries.
        std::vector<int64_t> keys, entries;
        std::vector<T> scores;
        for (std::size_t i = i0; i < i1; ++i) {
            const int64_t s = static_cast<int64_t>(i) / a.heads, h = static_cast<int64_t>(i) % a.heads;
            const int64_t pos = a.start_pos + s;
            keys.clear();
            entries.clear();
            if (a.indices && !comp) {
                const int32_t* idx = a.indices + s * a.n_indices;
                for (int64_t j = 0; j < a.n_indices; ++j) {
                    // The causal mask is applied again after selection (top-k may pick future slots).
                    if (idx[j] >= 0 && idx[j] < a.n_keys && a.key_start + idx[j] <= pos) keys.push_back(idx[j]);
                }
            } else {
                int64_t first = a.window > 0 ? std::max<int64_t>(0, pos - a.window + 1) : 0;
                first = std::max(first, a.key_start);
                const int64_t last = std::min(pos, a.key_start + a.n_keys - 1);
                for (int64_t p = first; p <= last; ++p) keys.push_back(p - a.key_start);
            }
            if (comp) {
                // Only complete entries: entry j needs position (j + 1) * ratio - 1.
                const int64_t done = std::min(a.n_comp, (pos + 1) / a.ratio);
                if (a.indices) {
                    const int32_t* idx = a.indices + s * a.n_indices;
                    for (int64_t j = 0; j < a.n_indices; ++j) {
                        if (idx[j] >= 0 && idx[j] < done) entries.push_back(idx[j]);
                    }
                    // Ascending order: the sum runs in the same order as over all entries.
                    std::sort(entries.begin(), entries.end());
                } else {
                    for (int64_t j = 0; j < done; ++j) entries.push_back(j);
                }
            }
            const T* qh = q + s * a.q_stride + h * a.q_head_stride;
            T* o = out + s * a.out_stride + h * a.out_head_stride;
            std::fill(o, o + a.dv, T(0));
            const std::size_t n_all = keys.size() + entries.size();
            if (n_all == 0) continue;
            scores.resize(n_all);
            auto key_row = [&](std::size_t j) {
                return j < keys.size() ? k + keys[j] * a.k_stride : comp + entries[j - keys.size()] * a.comp_stride;
            };
            auto value_row = [&](std::size_t j) {
                return j < keys.size() ? v + keys[j] * a.v_stride : comp + entries[j - keys.size()] * a.comp_stride;
            };
            T m = -std::numeric_limits<T>::infinity();
            for (std::size_t j = 0; j < n_all; ++j) {
                const T* kr = key_row(j);
                T dot = 0;
                for (int64_t c = 0; c < a.dk; ++c) dot += qh[c] * kr[c];
                scores[j] = dot * static_cast<T>(a.scale);
                m = std::max(m, scores[j]);
            }
            T denom = sink ? std::exp(sink[h] - m) : T(0);  // the sink joins the denominator only
            for (auto& sc : scores) {
                sc = std::exp(sc - m);
                denom += sc;
            }
            for (std::size_t j = 0; j < n_all; ++j) {
                const T p = scores[j] / denom;
                const T* vr = value_row(j);
                for (int64_t c = 0; c < a.dv; ++c) o[c] += p * vr[c];
            }
        }
    });
}

template <class T>
void indexer_scores(const exec_ctx& ex, const T* q, const T* w, const T* k, int64_t d, int64_t heads, int64_t queries,
                    int64_t n_keys, int64_t k_stride, int64_t start_pos, int64_t ratio, T* out) {
    parallel(ex, static_cast<std::size_t>(queries), 1, [&](std::size_t s0, std::size_t s1) {
        for (std::size_t s = s0; s < s1; ++s) {
            const int64_t valid = (start_pos + static_cast<int64_t>(s) + 1) / ratio;
            T* row = out + static_cast<int64_t>(s) * n_keys;
            const T* qs = q + static_cast<int64_t>(s) * heads * d;
            const T* ws = w + static_cast<int64_t>(s) * heads;
            for (int64_t j = 0; j < n_keys; ++j) {
                if (j >= valid) {
                    row[j] = -std::numeric_limits<T>::infinity();
                    continue;
                }
                const T* kj = k + j * k_stride;
                T total = 0;
                for (int64_t h = 0; h < heads; ++h) {
                    const T* qh = qs + h * d;
                    T dot = 0;
                    for (int64_t c = 0; c < d; ++c) dot += qh[c] * kj[c];
                    total += ws[h] * std::max(dot, T(0));
                }
                row[j] = total;
            }
        }
    });
}

template void attention<float>(const exec_ctx&, const attention_args&, const float*, const float*, const float*,
                               const float*, float*);
template void attention<double>(const exec_ctx&, const attention_args&, const double*, const double*, const double*,
                                const double*, double*);
template void indexer_scores<float>(const exec_ctx&, const float*, const float*, const float*, int64_t, int64_t,
                                    int64_t, int64_t, int64_t, int64_t, int64_t, float*);
template void indexer_scores<double>(const exec_ctx&, const double*, const double*, const double*, int64_t, int64_t,
                                     int64_t, int64_t, int64_t, int64_t, int64_t, double*);

}  // namespace mneme::kernels
