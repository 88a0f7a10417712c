#include "graph/weights.h"

#include <cstring>


namespace mneme {

weight_store::weight_store(const checkpoint& ckpt, const model_config& cfg, graph_builder& g)
    : ckpt_(ckpt), cfg_(cfg), g_(g) {}

mneme_tensor weight_store::wrap(const tensor_info& t, mneme_dtype dtype, int64_t ne0, int64_t ne1) {
    buffer_ptr b = g_.dev().wrap_or_upload(t.data, t.size_bytes);
    owned_.push_back(b);
    mapped_ += t.size_bytes;
    return make_tensor(b->raw(), 0, dtype, {ne0, ne1});
}

linear_weight weight_store::linear(const std::string& prefix, int64_t out, int64_t in, bool fp4) {
    linear_weight lw;
    const std::string wname = prefix + ".weight";
    const tensor_info& t = ckpt_.get(wname);
    if (fp4) {
        check_tensor(t, {st_dtype::i8, st_dtype::u8}, {out, in / 2});
        lw.w = wrap(t, MNEME_DTYPE_FP4_E2M1, in, out);
        const tensor_info& s = ckpt_.expect(prefix + ".scale", st_dtype::f8_e8m0, {out, (in + 31) / 32});
        lw.scale = wrap(s, MNEME_DTYPE_F8_E8M0, (in + 31) / 32, out);
        lw.block_n = 1;
        lw.block_k = 32;
        lw.quantised = true;
        return lw;
    }
    check_tensor(t, {st_dtype::f8_e4m3, st_dtype::bf16, st_dtype::f32, st_dtype::f16}, {out, in});
    lw.w = wrap(t, to_mneme_dtype(t.dtype), in, out);
    if (t.dtype == st_dtype::f8_e4m3) {
        const int64_t bn = cfg_.quantization.block_rows, bk = cfg_.quantization.block_cols;
        const int64_t gn = (out + bn - 1) / bn, gk = (in + bk - 1) / bk;
        if (const tensor_info* s = ckpt_.find(prefix + ".weight_scale_inv")) {
            check_tensor(*s, st_dtype::f32, {gn, gk});
            lw.scale = wrap(*s, MNEME_DTYPE_F32, gk, gn);
        } else {
            const tensor_info& s2 = ckpt_.expect(prefix + ".scale", st_dtype::f8_e8m0, {gn, gk});
            lw.scale = wrap(s2, MNEME_DTYPE_F8_E8M0, gk, gn);
        }
        lw.block_n = static_cast<uint32_t>(bn);
        lw.block_k = static_cast<uint32_t>(bk);
        lw.quantised = true;
    }
    return lw;
}

mneme_tensor weight_store::raw(const std::string& name, std::initializer_list<int64_t> shape) {
    const tensor_info& t = ckpt_.get(name);
    check_tensor(t, {st_dtype::bf16, st_dtype::f32, st_dtype::f16}, shape);
    const int64_t rows = shape.size() > 1 ? *shape.begin() : 1;
    const int64_t cols = *(shape.end() - 1);
    return wrap(t, to_mneme_dtype(t.dtype), cols, rows);
}

mneme_tensor weight_store::vector(const std::string& name, int64_t n) {
    const tensor_info& t = ckpt_.get(name);
    check_tensor(t, {st_dtype::bf16, st_dtype::f32, st_dtype::f16}, {n});
    mneme_tensor src = wrap(t, to_mneme_dtype(t.dtype), n, 1);
    buffer_ptr b = g_.dev().alloc(static_cast<uint64_t>(n * dtype_bytes(g_.act())));
    owned_.push_back(b);
    mneme_tensor dst = make_tensor(b->raw(), 0, g_.act(), {n, 1});
    g_.copy(dst, src);
    return dst;
}

std::vector<double> weight_store::host_doubles(const std::string& name, int64_t n) {
    const tensor_info& t = ckpt_.get(name);
    check_tensor(t, {st_dtype::bf16, st_dtype::f32}, {n});
    std::vector<double> out(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
        if (t.dtype == st_dtype::f32) {
            float f;
            std::memcpy(&f, t.data + 4 * i, 4);
            out[static_cast<std::size_t>(i)] = f;
        } else {
            uint16_t h;
            std::memcpy(&h, t.data + 2 * i, 2);
            const uint32_t bits = static_cast<uint32_t>(h) << 16;  // bf16 is the high half of an f32
            float f;
            std::memcpy(&f, &bits, 4);
            out[static_cast<std::size_t>(i)] = f;
        }
    }
    return out;
}

mneme_tensor weight_store::dequantised(const linear_weight& w) {
    const int64_t out = w.out_features(), in = w.in_features();
    buffer_ptr b = g_.dev().alloc(static_cast<uint64_t>(out * in * dtype_bytes(g_.act())));
    owned_.push_back(b);
    mneme_tensor dst = make_tensor(b->raw(), 0, g_.act(), {in, out});
    g_.dequantise(dst, w);
    return dst;
}

}  // namespace mneme
