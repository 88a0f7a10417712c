#include <algorithm>
#include <cmath>
#include <sstream>

#include "op-case-builder.h"

namespace mneme::backend_test {
namespace {

int64_t elem_size(mneme_dtype t) {
    return mneme_dtype_size(t);
}

uint64_t extent(const tensor_spec& t) {
    uint64_t last = 0;
    for (int d = 1; d < 4; ++d) last += static_cast<uint64_t>((t.ne[d] - 1) * t.nb[d]);
    if (t.dtype == MNEME_DTYPE_FP4_E2M1) return last + static_cast<uint64_t>((t.ne[0] + 1) / 2);
    return last + static_cast<uint64_t>(t.ne[0] * elem_size(t.dtype));
}

uint16_t random_f16_bits(std::mt19937& rng) {
    // Sign, exponent 10..19 (about 2^-5 .. 2^4), any mantissa: finite and normal.
    const uint32_t r = rng();
    return static_cast<uint16_t>(((r & 1u) << 15) | ((10 + (r >> 1) % 10) << 10) | ((r >> 8) & 0x3ffu));
}

}  // namespace

case_builder::case_builder(std::string name, mneme_op_type type, uint32_t seed) : rng_(seed) {
    c_.name = std::move(name);
    c_.type = type;
    c_.tensors.resize(1);
}

tensor_spec case_builder::shaped(mneme_dtype dtype, std::initializer_list<int64_t> ne, layout l) const {
    tensor_spec t;
    t.dtype = dtype;
    int d = 0;
    for (int64_t n : ne) t.ne[d++] = n;
    const int64_t es = elem_size(dtype);
    t.nb[0] = dtype == MNEME_DTYPE_FP4_E2M1 ? 0 : es;
    t.nb[1] = dtype == MNEME_DTYPE_FP4_E2M1 ? (t.ne[0] + 1) / 2 + l.row_pad : (t.ne[0] + l.row_pad) * es;
    t.nb[2] = t.nb[1] * t.ne[1];
    t.nb[3] = t.nb[2] * t.ne[2];
    t.offset = l.offset;
    t.bytes.resize(t.offset + extent(t) + 16);
    return t;
}

int case_builder::add(tensor_spec t) {
    c_.tensors.push_back(std::move(t));
    return static_cast<int>(c_.tensors.size() - 1);
}

int case_builder::f32(std::initializer_list<int64_t> ne, float lo, float hi, layout l) {
    tensor_spec t = shaped(MNEME_DTYPE_F32, ne, l);
    for (std::size_t i = 0; i + 4 <= t.bytes.size(); i += 4) {
        const float v = uniform(lo, hi);
        std::memcpy(t.bytes.data() + i, &v, 4);
    }
    return add(std::move(t));
}

int case_builder::f32_values(std::initializer_list<int64_t> ne, const std::vector<float>& v, layout l) {
    tensor_spec t = shaped(MNEME_DTYPE_F32, ne, l);
    const int64_t rows = t.ne[1] * t.ne[2] * t.ne[3];
    for (int64_t r = 0; r < rows; ++r) {
        std::memcpy(t.bytes.data() + t.offset + static_cast<uint64_t>(r * t.nb[1]),
                    v.data() + static_cast<std::size_t>(r * t.ne[0]), static_cast<std::size_t>(t.ne[0]) * 4);
    }
    return add(std::move(t));
}

int case_builder::i32(std::initializer_list<int64_t> ne, const std::vector<int32_t>& v) {
    tensor_spec t = shaped(MNEME_DTYPE_I32, ne, {});
    std::memcpy(t.bytes.data(), v.data(), v.size() * 4);
    return add(std::move(t));
}

int case_builder::i64(std::initializer_list<int64_t> ne, const std::vector<int64_t>& v) {
    tensor_spec t = shaped(MNEME_DTYPE_I64, ne, {});
    std::memcpy(t.bytes.data(), v.data(), v.size() * 8);
    return add(std::move(t));
}

int case_builder::weight(mneme_dtype dtype, int64_t k, int64_t n, layout l) {
    if (dtype == MNEME_DTYPE_F32) return f32({k, n}, -1, 1, l);
    tensor_spec t = shaped(dtype, {k, n}, l);
    for (std::size_t i = 0; i < t.bytes.size(); i += (dtype == MNEME_DTYPE_BF16 || dtype == MNEME_DTYPE_F16) ? 2 : 1) {
        if (dtype == MNEME_DTYPE_BF16) {
            const float v = uniform(-1, 1);
            uint32_t bits;
            std::memcpy(&bits, &v, 4);
            const uint16_t h = static_cast<uint16_t>(bits >> 16);
            if (i + 2 <= t.bytes.size()) std::memcpy(t.bytes.data() + i, &h, 2);
        } else if (dtype == MNEME_DTYPE_F16) {
            const uint16_t h = random_f16_bits(rng_);
            if (i + 2 <= t.bytes.size()) std::memcpy(t.bytes.data() + i, &h, 2);
        } else if (dtype == MNEME_DTYPE_F8_E4M3) {
            uint8_t b = static_cast<uint8_t>(rng_());
            if ((b & 0x7f) == 0x7f) b ^= 1;  // not NaN
            t.bytes[i] = b;
        } else {
            t.bytes[i] = static_cast<uint8_t>(rng_());
        }
    }
    return add(std::move(t));
}

int case_builder::scales(mneme_dtype dtype, int64_t nk, int64_t nn) {
    if (dtype == MNEME_DTYPE_F32) return f32({nk, nn}, 0.25f, 2.0f);
    tensor_spec t = shaped(MNEME_DTYPE_F8_E8M0, {nk, nn}, {});
    for (auto& b : t.bytes) b = static_cast<uint8_t>(122 + rng_() % 10);  // 2^-5 .. 2^4
    return add(std::move(t));
}

void case_builder::dst(mneme_dtype dtype, std::initializer_list<int64_t> ne, layout l) {
    tensor_spec t = shaped(dtype, ne, l);
    for (std::size_t i = 0; i + 4 <= t.bytes.size(); i += 4) {
        const float v = uniform(-1, 1);
        std::memcpy(t.bytes.data() + i, &v, 4);
    }
    c_.tensors[0] = std::move(t);
}

void case_builder::sources(std::initializer_list<int> idx) {
    c_.n_src = 0;
    for (int i : idx) c_.src[c_.n_src++] = i;
}

op_case case_builder::done(double tolerance) {
    c_.tolerance = tolerance;
    return std::move(c_);
}

namespace {

mneme_tensor view(const tensor_spec& t, mneme_buffer* b) {
    mneme_tensor v{};
    v.buffer = b;
    v.offset = t.offset;
    v.dtype = t.dtype;
    for (int d = 0; d < 4; ++d) {
        v.ne[d] = t.ne[d];
        v.nb[d] = t.nb[d];
    }
    return v;
}

// Runs the case on one device; returns the destination buffer's bytes afterwards.
std::vector<uint8_t> run_on(plugin_device& d, const op_case& c, mneme_op& op, bool& supported, std::string& error) {
    std::vector<mneme_buffer*> buffers;
    std::vector<uint8_t> out(c.tensors[0].bytes.size());
    try {
        for (const auto& t : c.tensors) {
            buffers.push_back(d.alloc(t.bytes.size()));
            d.upload(buffers.back(), 0, t.bytes.data(), t.bytes.size());
        }
        op = mneme_op{};
        op.struct_size = sizeof(op);
        op.type = c.type;
        op.dst = view(c.tensors[0], buffers[0]);
        op.n_src = c.n_src;
        for (uint32_t i = 0; i < c.n_src; ++i) {
            if (c.src[i] >= 0)
                op.src[i] =
                    view(c.tensors[static_cast<std::size_t>(c.src[i])], buffers[static_cast<std::size_t>(c.src[i])]);
        }
        op.params = c.params.empty() ? nullptr : c.params.data();
        op.params_size = static_cast<uint32_t>(c.params.size());
        supported = d.supports(op);
        if (supported) {
            if (d.run({op}) != MNEME_OK) error = d.name() + ": " + d.last_error();
            d.download(buffers[0], 0, out.data(), out.size());
        }
    } catch (const std::exception& e) {
        error = e.what();
    }
    for (auto* b : buffers) d.free_buffer(b);
    return out;
}

}  // namespace

case_result run_case(plugin_device& dev, plugin_device& ref, const op_case& c) {
    case_result r;
    mneme_op op{};
    bool ref_supported = false, dev_supported = false;
    std::string error;
    const auto want = run_on(ref, c, op, ref_supported, error);
    if (!ref_supported || !error.empty()) {
        r.message = "reference failed: " + (error.empty() ? std::string("unsupported") : error);
        r.ran = true;
        return r;
    }
    const auto got = run_on(dev, c, op, dev_supported, error);
    r.ran = dev_supported;
    if (!dev_supported) return r;
    if (!error.empty()) {
        r.message = error;
        return r;
    }
    std::ostringstream msg;
    if (c.tensors[0].dtype != MNEME_DTYPE_F32) {
        r.ok = got == want;
        if (!r.ok) {
            for (std::size_t i = 0; i + 4 <= got.size(); i += 4) {
                int32_t a, b;
                std::memcpy(&a, got.data() + i, 4);
                std::memcpy(&b, want.data() + i, 4);
                if (a != b) {
                    msg << "first difference at word " << i / 4 << ": got " << a << ", want " << b;
                    break;
                }
            }
        }
        r.message = msg.str();
        return r;
    }
    double diff = 0, scale = 0;
    std::size_t worst = 0, nan_mismatch = got.size();
    for (std::size_t i = 0; i + 4 <= got.size(); i += 4) {
        float a, b;
        std::memcpy(&a, got.data() + i, 4);
        std::memcpy(&b, want.data() + i, 4);
        if (std::isnan(a) != std::isnan(b) || std::isinf(a) != std::isinf(b) || (std::isinf(b) && a != b)) {
            if (nan_mismatch == got.size()) nan_mismatch = i / 4;
            continue;
        }
        if (std::isnan(b) || std::isinf(b)) continue;
        scale = std::max(scale, static_cast<double>(std::fabs(b)));
        const double d = std::fabs(static_cast<double>(a) - b);
        if (d > diff) {
            diff = d;
            worst = i / 4;
        }
    }
    r.error = scale > 0 ? diff / scale : diff;
    r.ok = nan_mismatch == got.size() && (c.tolerance == 0 ? diff == 0 : r.error <= c.tolerance);
    if (nan_mismatch != got.size()) msg << "non-finite mismatch at float " << nan_mismatch << "; ";
    if (diff > 0) {
        float a, b;
        std::memcpy(&a, got.data() + worst * 4, 4);
        std::memcpy(&b, want.data() + worst * 4, 4);
        msg << "max relative error " << r.error << " (tolerance " << c.tolerance << "), worst at float " << worst
            << ": got " << a << ", want " << b;
    }
    r.message = msg.str();
    return r;
}

}  // namespace mneme::backend_test
