#include "kernel-harness.h"

#include <catch2/catch.hpp>
#include <cstdlib>

#include "core/thread-pool.h"

namespace mneme::test {

struct backend_fixture::host_state {
    explicit host_state(unsigned threads) : pool(threads) {}
    thread_pool pool;
    mneme_host_api api{};
};

namespace {
void MNEME_CALL host_log(void*, mneme_log_level, const char*) {}
void* MNEME_CALL host_alloc(void*, size_t size, size_t align) {
    return std::aligned_alloc(align, (size + align - 1) / align * align);
}
void MNEME_CALL host_free(void*, void* p) { std::free(p); }
void MNEME_CALL host_parallel_for(void* host, size_t n, size_t grain, mneme_range_fn fn, void* ctx) {
    static_cast<thread_pool*>(host)->parallel_for(n, grain, [&](std::size_t b, std::size_t e) { fn(ctx, b, e); });
}
}  // namespace

backend_fixture::backend_fixture(const mneme_plugin_v1* table, unsigned threads)
    : table_(table), host_(std::make_unique<host_state>(threads)) {
    auto& a = host_->api;
    a.struct_size = sizeof(a);
    a.abi_major = MNEME_PLUGIN_ABI_MAJOR;
    a.abi_minor = MNEME_PLUGIN_ABI_MINOR;
    a.host = &host_->pool;
    a.log = host_log;
    a.alloc = host_alloc;
    a.free = host_free;
    a.parallel_for = host_parallel_for;
    a.n_threads = threads;
    REQUIRE(table_->open(&a, 0, &be_) == MNEME_OK);
    REQUIRE(table_->queue_create(be_, &queue_) == MNEME_OK);
}

backend_fixture::~backend_fixture() {
    for (auto* b : buffers_) table_->buffer_free(be_, b);
    table_->queue_destroy(be_, queue_);
    table_->close(be_);
}

namespace {
// A contiguous layout of the given shape (ne innermost first); returns its size in bytes.
int64_t lay_out(mneme_tensor& t, mneme_dtype dtype, std::vector<int64_t> ne) {
    t.dtype = dtype;
    ne.resize(MNEME_MAX_DIMS, 1);
    int64_t es = 0;
    switch (dtype) {
        case MNEME_DTYPE_F64:
        case MNEME_DTYPE_I64: es = 8; break;
        case MNEME_DTYPE_F32:
        case MNEME_DTYPE_I32: es = 4; break;
        case MNEME_DTYPE_BF16:
        case MNEME_DTYPE_F16: es = 2; break;
        default: es = 1; break;
    }
    int64_t row_bytes = dtype == MNEME_DTYPE_FP4_E2M1 ? (ne[0] + 1) / 2 : ne[0] * es;
    t.ne[0] = ne[0];
    t.nb[0] = dtype == MNEME_DTYPE_FP4_E2M1 ? 0 : es;
    int64_t stride = row_bytes;
    for (int d = 1; d < MNEME_MAX_DIMS; ++d) {
        t.ne[d] = ne[d];
        t.nb[d] = stride;
        stride *= ne[d];
    }
    return stride;
}
}  // namespace

mneme_tensor backend_fixture::tensor(mneme_dtype dtype, std::vector<int64_t> ne, const void* bytes) {
    mneme_tensor t{};
    const int64_t size = lay_out(t, dtype, std::move(ne));
    mneme_buffer* buf = nullptr;
    REQUIRE(table_->buffer_alloc(be_, static_cast<uint64_t>(size), 0, &buf) == MNEME_OK);
    buffers_.push_back(buf);
    if (bytes) REQUIRE(table_->buffer_upload(be_, buf, 0, bytes, static_cast<uint64_t>(size)) == MNEME_OK);
    t.buffer = buf;
    return t;
}

mneme_tensor backend_fixture::wrap(mneme_dtype dtype, std::vector<int64_t> ne, void* bytes) {
    mneme_tensor t{};
    const int64_t size = lay_out(t, dtype, std::move(ne));
    mneme_buffer* buf = nullptr;
    REQUIRE(table_->buffer_wrap_host(be_, bytes, static_cast<uint64_t>(size), &buf) == MNEME_OK);
    buffers_.push_back(buf);
    t.buffer = buf;
    return t;
}

void backend_fixture::upload(const mneme_tensor& t, uint64_t at, const void* bytes, uint64_t size) {
    REQUIRE(table_->buffer_upload(be_, t.buffer, t.offset + at, bytes, size) == MNEME_OK);
}

mneme_status backend_fixture::run(mneme_op_type type, mneme_tensor dst, std::vector<mneme_tensor> src,
                                  const void* params, uint32_t params_size) {
    mneme_op op{};
    op.struct_size = sizeof(op);
    op.type = type;
    op.dst = dst;
    op.n_src = static_cast<uint32_t>(src.size());
    for (std::size_t i = 0; i < src.size(); ++i) op.src[i] = src[i];
    op.params = params;
    op.params_size = params_size;
    const mneme_status st = table_->queue_submit(be_, queue_, &op, 1);
    if (st != MNEME_OK) return st;
    return table_->queue_sync(be_, queue_);
}

}  // namespace mneme::test
