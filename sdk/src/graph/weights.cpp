#include "graph/weights.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "model/mapped-file.h"
#include "model/tensor-use.h"

namespace mneme {
namespace {

// dst [cols, n] = rows [first, first + n) of src [rows, cols] transposed, elements of ES bytes.
template <std::size_t ES>
void transpose_rows(const uint8_t* src, int64_t cols, int64_t first, int64_t n, uint8_t* dst) {
    for (int64_t r = 0; r < n; ++r) {
        const uint8_t* row = src + static_cast<std::size_t>((first + r) * cols) * ES;
        for (int64_t c = 0; c < cols; ++c) std::memcpy(dst + static_cast<std::size_t>(c * n + r) * ES, row + c * ES, ES);
    }
}

// The transposes of rows [f, f + n) of a [rows, cols] matrix of es-byte elements, one after the
// other for each f in firsts.
std::vector<uint8_t> transposed(const uint8_t* src, std::size_t es, int64_t cols, std::span<const int64_t> firsts,
                                int64_t n) {
    const std::size_t each = static_cast<std::size_t>(cols * n) * es;
    std::vector<uint8_t> out(each * firsts.size());
    for (std::size_t i = 0; i < firsts.size(); ++i) {
        uint8_t* dst = out.data() + i * each;
        switch (es) {
            case 1: transpose_rows<1>(src, cols, firsts[i], n, dst); break;
            case 2: transpose_rows<2>(src, cols, firsts[i], n, dst); break;
            case 4: transpose_rows<4>(src, cols, firsts[i], n, dst); break;
            case 8: transpose_rows<8>(src, cols, firsts[i], n, dst); break;
            default: fail(MNEME_ERROR_INTERNAL, "transposed: ", es, "-byte elements");
        }
    }
    return out;
}

}  // namespace

linear_weight row_slice(const linear_weight& w, int64_t first, int64_t n) {
    if (first < 0 || n < 0 || first + n > w.out_features()) {
        fail(MNEME_ERROR_INTERNAL, "row_slice: rows ", first, "+", n, " of ", w.out_features());
    }
    linear_weight s = w;
    s.w = rows_of(w.w, first, n);
    if (w.scale.buffer) {
        const int64_t bn = w.block_n;
        if (first % bn != 0) fail(MNEME_ERROR_INTERNAL, "row_slice: row ", first, " does not start a block of ", bn);
        s.scale = rows_of(w.scale, first / bn, (n + bn - 1) / bn);
    }
    return s;
}

namespace {

// MemAvailable of /proc/meminfo (free memory and what the page cache would give back), else the
// free pages; 0 when neither is known.
uint64_t available_memory() {
    std::ifstream f("/proc/meminfo");
    std::string key;
    uint64_t kib = 0;
    std::string unit;
    while (f >> key >> kib >> unit) {
        if (key == "MemAvailable:") return kib * 1024;
    }
    const long pages = ::sysconf(_SC_AVPHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
}

// Resident weights are copied into chunks of this size (a weight larger than it gets its own).
constexpr uint64_t k_arena_chunk = uint64_t{256} << 20;

}  // namespace

bool resident_weights(const checkpoint& ckpt, const model_config& cfg, device& dev) {
    if (!dev.is_host_memory()) return false;  // other devices copy weights into their memory anyway
    if (const char* v = std::getenv("MNEME_WEIGHTS"); v && *v) {
        if (std::strcmp(v, "mapped") == 0) return false;
        if (std::strcmp(v, "resident") == 0) return true;
    }
    uint64_t total = 0;  // what wrap() would copy: the plan's weights
    for (const tensor_info& t : ckpt) {
        if (use_of(t.name, cfg) == tensor_use::weight) total += t.size_bytes;
    }
    return total <= available_memory() / 2;
}

weight_store::weight_store(const checkpoint& ckpt, const model_config& cfg, graph_builder& g)
    : ckpt_(ckpt), cfg_(cfg), g_(g), resident_(resident_weights(ckpt, cfg, g.dev())) {}

mneme_tensor weight_store::wrap(const tensor_info& t, mneme_dtype dtype, int64_t ne0, int64_t ne1) {
    mapped_ += t.size_bytes;
    if (!resident_) {
        buffer_ptr b = g_.dev().wrap_or_upload(t.data, t.size_bytes);
        owned_.push_back(b);
        return make_tensor(b->raw(), 0, dtype, {ne0, ne1});
    }
    uint64_t at = (arena_used_ + 63) / 64 * 64;
    if (!arena_ || at + t.size_bytes > arena_->size()) {
        // Uncounted: the plan counts these bytes as mapped weights (resident once read).
        arena_ = g_.dev().alloc(std::max(k_arena_chunk, t.size_bytes), false);
        owned_.push_back(arena_);
        at = 0;
    }
    if (t.size_bytes) g_.dev().upload(arena_->raw(), at, t.data, t.size_bytes);
    arena_used_ = at + t.size_bytes;
    mapped_file::drop_pages(t.data, t.size_bytes);  // the copy replaces them in the resident set
    return make_tensor(arena_->raw(), at, dtype, {ne0, ne1});
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

buffer_ptr weight_store::upload_owned(const std::vector<uint8_t>& bytes) {
    buffer_ptr b = g_.dev().alloc(bytes.size());
    owned_.push_back(b);
    g_.dev().upload(b->raw(), 0, bytes.data(), bytes.size());
    return b;
}

const tensor_info& weight_store::scale_info(const std::string& prefix) const {
    if (const tensor_info* s = ckpt_.find(prefix + ".weight_scale_inv")) return *s;
    return ckpt_.get(prefix + ".scale");
}

linear_weight weight_store::with_row_scales(const std::string& prefix, const linear_weight& w) {
    if (!w.scale.buffer || w.block_n == 1) return w;
    const tensor_info& s = scale_info(prefix);
    const int64_t out = w.out_features(), gk = w.scale.ne[0], bn = w.block_n;
    const auto es = static_cast<std::size_t>(dtype_bytes(w.scale.dtype));
    const std::size_t row_bytes = static_cast<std::size_t>(gk) * es;
    if (s.size_bytes != static_cast<uint64_t>((out + bn - 1) / bn) * row_bytes) {
        fail(MNEME_ERROR_INTERNAL, "with_row_scales: ", prefix, " scales have ", s.size_bytes, " bytes");
    }
    std::vector<uint8_t> rows(static_cast<std::size_t>(out) * row_bytes);
    for (int64_t r = 0; r < out; ++r) {
        std::memcpy(rows.data() + static_cast<std::size_t>(r) * row_bytes,
                    s.data + static_cast<std::size_t>(r / bn) * row_bytes, row_bytes);
    }
    linear_weight lw = w;
    lw.scale = make_tensor(upload_owned(rows)->raw(), 0, w.scale.dtype, {gk, out});
    lw.block_n = 1;
    return lw;
}

std::vector<linear_weight> weight_store::transposed_rows(const std::string& prefix, const linear_weight& w,
                                                         std::span<const int64_t> firsts, int64_t n) {
    std::vector<linear_weight> out;
    if (firsts.empty()) return out;
    const int64_t rows = w.out_features(), in = w.in_features(), bn = w.block_n, bk = w.block_k;
    const bool scaled = w.scale.buffer != nullptr;
    if (w.w.dtype == MNEME_DTYPE_FP4_E2M1) fail(MNEME_ERROR_INTERNAL, "transposed_rows: FP4 weight ", prefix);
    for (int64_t f : firsts) {
        if (f < 0 || n <= 0 || f + n > rows) fail(MNEME_ERROR_INTERNAL, "transposed_rows: rows ", f, "+", n, " of ", prefix);
        if (scaled && f % bn != 0) fail(MNEME_ERROR_INTERNAL, "transposed_rows: row ", f, " does not start a block of ", bn);
    }
    // The host copy comes from the checkpoint: a GPU backend's buffers cannot be read cheaply.
    const tensor_info& t = ckpt_.get(prefix + ".weight");
    const auto es = static_cast<std::size_t>(dtype_bytes(w.w.dtype));
    if (t.size_bytes != static_cast<uint64_t>(rows * in) * es) {
        fail(MNEME_ERROR_INTERNAL, "transposed_rows: ", prefix, " has ", t.size_bytes, " bytes");
    }
    const std::size_t each = static_cast<std::size_t>(n * in) * es;
    const buffer_ptr b = upload_owned(transposed(t.data, es, in, firsts, n));
    for (std::size_t i = 0; i < firsts.size(); ++i) {
        linear_weight tw;
        tw.w = make_tensor(b->raw(), i * each, w.w.dtype, {n, in});
        tw.quantised = w.quantised;
        out.push_back(tw);
    }
    if (!scaled) return out;

    // Block (i, j) of a transpose is block (f / block_n + j, i) of the original.
    const int64_t gn = (rows + bn - 1) / bn, gk = (in + bk - 1) / bk, grid_rows = (n + bn - 1) / bn;
    const tensor_info& s = scale_info(prefix);
    const auto ses = static_cast<std::size_t>(dtype_bytes(w.scale.dtype));
    if (s.size_bytes != static_cast<uint64_t>(gn * gk) * ses) {
        fail(MNEME_ERROR_INTERNAL, "transposed_rows: ", prefix, " scales have ", s.size_bytes, " bytes");
    }
    const std::size_t grid = static_cast<std::size_t>(gk * grid_rows) * ses;
    std::vector<int64_t> block_rows;
    for (int64_t f : firsts) block_rows.push_back(f / bn);
    const buffer_ptr sb = upload_owned(transposed(s.data, ses, gk, block_rows, grid_rows));
    for (std::size_t i = 0; i < out.size(); ++i) {
        out[i].scale = make_tensor(sb->raw(), i * grid, w.scale.dtype, {grid_rows, gk});
        out[i].block_n = static_cast<uint32_t>(bk);
        out[i].block_k = static_cast<uint32_t>(bn);
    }
    return out;
}

}  // namespace mneme
