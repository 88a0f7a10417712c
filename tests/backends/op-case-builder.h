// Assembles an op_case: random tensors in any stored format, views with padded rows and offsets.
#pragma once

#include <cstring>
#include <initializer_list>
#include <random>

#include "op-cases.h"

namespace mneme::backend_test {

struct layout {
    int64_t row_pad = 0;  // extra elements (bytes for FP4) between rows
    uint64_t offset = 0;  // bytes before the view (a multiple of 4)
};

class case_builder {
  public:
    case_builder(std::string name, mneme_op_type type, uint32_t seed);

    // Random float32 values in [lo, hi).
    int f32(std::initializer_list<int64_t> ne, float lo = -1, float hi = 1, layout l = {});
    int f32_values(std::initializer_list<int64_t> ne, const std::vector<float>& v, layout l = {});
    int i32(std::initializer_list<int64_t> ne, const std::vector<int32_t>& v);
    int i64(std::initializer_list<int64_t> ne, const std::vector<int64_t>& v);
    // A weight [k, n] with random codes of `dtype` (finite values only).
    int weight(mneme_dtype dtype, int64_t k, int64_t n, layout l = {});
    // Block scales [nk, nn] in F32 or E8M0.
    int scales(mneme_dtype dtype, int64_t nk, int64_t nn);
    // The destination (tensor 0): random contents, so in-place and accumulating ops see data.
    void dst(mneme_dtype dtype, std::initializer_list<int64_t> ne, layout l = {});

    void sources(std::initializer_list<int> idx);
    template <class P>
    void params(const P& p) {
        c_.params.resize(sizeof(P));
        std::memcpy(c_.params.data(), &p, sizeof(P));
    }
    op_case done(double tolerance);

    std::mt19937& rng() { return rng_; }
    float uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(rng_); }

  private:
    int add(tensor_spec t);
    tensor_spec shaped(mneme_dtype dtype, std::initializer_list<int64_t> ne, layout l) const;

    std::mt19937 rng_;
    op_case c_;
};

}  // namespace mneme::backend_test
