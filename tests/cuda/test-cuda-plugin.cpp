// The CUDA plugin module through its C table, loaded with dlopen exactly as the runtime loads it.
// On a machine without a driver or GPU the probe must report "no device" (score 0, a message naming
// the CUDA error) and every later call must fail cleanly; with a GPU, a buffer round trip and one op
// run on the device.
#include <dlfcn.h>
#include <mneme/mneme_plugin.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

void MNEME_CALL host_log(void*, mneme_log_level, const char*) {}
void* MNEME_CALL host_alloc(void*, size_t size, size_t align) {
    return std::aligned_alloc(align, (size + align - 1) / align * align);
}
void MNEME_CALL host_free(void*, void* p) {
    std::free(p);
}
void MNEME_CALL host_parallel_for(void*, size_t n, size_t, mneme_range_fn fn, void* ctx) {
    fn(ctx, 0, n);
}

mneme_host_api make_host() {
    mneme_host_api h{};
    h.struct_size = sizeof(h);
    h.abi_major = MNEME_PLUGIN_ABI_MAJOR;
    h.abi_minor = MNEME_PLUGIN_ABI_MINOR;
    h.log = host_log;
    h.alloc = host_alloc;
    h.free = host_free;
    h.parallel_for = host_parallel_for;
    h.n_threads = 1;
    return h;
}

// The module stays loaded for the whole test run, as the runtime keeps plugins until it is destroyed.
const mneme_plugin_v1* table(uint32_t major = MNEME_PLUGIN_ABI_MAJOR) {
    static void* module = dlopen(MNEME_CUDA_PLUGIN, RTLD_NOW | RTLD_LOCAL);
    INFO("dlopen: " << (module ? "" : dlerror()));
    REQUIRE(module != nullptr);
    auto entry = reinterpret_cast<mneme_plugin_entry_v1_fn>(dlsym(module, MNEME_PLUGIN_ENTRY_V1_SYMBOL));
    REQUIRE(entry != nullptr);
    return entry(major, MNEME_PLUGIN_ABI_MINOR);
}

mneme_plugin_probe_info probe_once(const mneme_host_api& host) {
    mneme_plugin_probe_info info{};
    info.struct_size = sizeof(info);
    REQUIRE(table()->probe(&host, &info) == MNEME_OK);
    return info;
}

mneme_tensor f32_view(mneme_buffer* b, int64_t n0, int64_t n1) {
    mneme_tensor t{};
    t.buffer = b;
    t.dtype = MNEME_DTYPE_F32;
    t.ne[0] = n0;
    t.ne[1] = n1;
    t.ne[2] = t.ne[3] = 1;
    t.nb[0] = 4;
    t.nb[1] = 4 * n0;
    t.nb[2] = t.nb[3] = 4 * n0 * n1;
    return t;
}

}  // namespace

TEST_CASE("the entry point serves ABI major 1 with a complete table", "[cuda]") {
    const mneme_plugin_v1* t = table();
    REQUIRE(t != nullptr);
    CHECK(std::string(t->name) == "cuda");
    CHECK(t->struct_size >= MNEME_PLUGIN_V1_0_SIZE);
    CHECK(t->abi_major == MNEME_PLUGIN_ABI_MAJOR);
    CHECK(t->buffer_wrap_host == nullptr);  // device memory: the runtime uploads
    CHECK(t->last_error != nullptr);
    CHECK(table(MNEME_PLUGIN_ABI_MAJOR + 1) == nullptr);
}

TEST_CASE("the probe reports a usable GPU or no device, never an error", "[cuda]") {
    const mneme_host_api host = make_host();
    const mneme_plugin_probe_info info = probe_once(host);
    INFO("probe message: " << info.message);
    CHECK(std::strlen(info.message) > 0);
    if (info.score == 0) {
        CHECK(info.device_count == 0);
        CHECK(std::string(info.message).find("CUDA") != std::string::npos);
        // Opening anyway fails with a status and a message, not a crash.
        mneme_backend* be = nullptr;
        CHECK(table()->open(&host, 0, &be) != MNEME_OK);
        CHECK(be == nullptr);
        CHECK(std::strlen(table()->last_error()) > 0);
        return;
    }
    CHECK(info.score > 10);  // preferred over the CPU backend
    REQUIRE(info.device_count >= 1);
    mneme_plugin_device_info di{};
    di.struct_size = sizeof(di);
    REQUIRE(table()->device_info(&host, 0, &di) == MNEME_OK);
    CHECK(std::strlen(di.name) > 0);
    CHECK(di.memory_total_bytes > 0);
    CHECK(table()->device_info(&host, info.device_count, &di) != MNEME_OK);
}

TEST_CASE("supports_op is truthful: float32 activations, known weight formats", "[cuda]") {
    const mneme_plugin_v1* t = table();
    mneme_op op{};
    op.struct_size = sizeof(op);
    op.type = MNEME_OP_RMS_NORM;
    op.n_src = 1;
    op.dst.dtype = op.src[0].dtype = MNEME_DTYPE_F32;
    CHECK(t->supports_op(nullptr, &op));
    op.dst.dtype = op.src[0].dtype = MNEME_DTYPE_F64;  // the exact path stays on the CPU
    CHECK_FALSE(t->supports_op(nullptr, &op));

    op = mneme_op{};
    op.struct_size = sizeof(op);
    op.type = MNEME_OP_MATMUL;
    op.n_src = 2;
    op.dst.dtype = op.src[0].dtype = MNEME_DTYPE_F32;
    for (mneme_dtype w :
         {MNEME_DTYPE_F32, MNEME_DTYPE_BF16, MNEME_DTYPE_F16, MNEME_DTYPE_F8_E4M3, MNEME_DTYPE_FP4_E2M1}) {
        op.src[1].dtype = w;
        CHECK(t->supports_op(nullptr, &op));
    }
    op.src[1].dtype = MNEME_DTYPE_F64;
    CHECK_FALSE(t->supports_op(nullptr, &op));

    op = mneme_op{};
    op.struct_size = sizeof(op);
    op.type = MNEME_OP_TOPK;
    op.n_src = 1;
    op.src[0].dtype = MNEME_DTYPE_F32;
    op.dst.dtype = MNEME_DTYPE_I32;
    mneme_op_topk p{8};
    op.params = &p;
    op.params_size = sizeof(p);
    CHECK(t->supports_op(nullptr, &op));
    p.k = 1u << 20;  // beyond the device top-k's on-chip sort
    CHECK_FALSE(t->supports_op(nullptr, &op));

    op.type = static_cast<mneme_op_type>(999);
    CHECK_FALSE(t->supports_op(nullptr, &op));
}

TEST_CASE("with a GPU: buffers round-trip and an op runs on the device", "[cuda]") {
    const mneme_host_api host = make_host();
    if (probe_once(host).score == 0) {
        WARN("no CUDA device: device round trip not run");
        return;
    }
    const mneme_plugin_v1* t = table();
    mneme_backend* be = nullptr;
    REQUIRE(t->open(&host, 0, &be) == MNEME_OK);
    mneme_queue* q = nullptr;
    REQUIRE(t->queue_create(be, &q) == MNEME_OK);
    mneme_buffer* buf = nullptr;
    REQUIRE(t->buffer_alloc(be, 2 * 12 * sizeof(float), 0, &buf) == MNEME_OK);
    CHECK(t->buffer_host_ptr(be, buf) == nullptr);

    std::vector<float> x(12);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) - 5.5f;
    REQUIRE(t->buffer_upload(be, buf, 0, x.data(), x.size() * sizeof(float)) == MNEME_OK);

    // dst = 2 x + 1 into the second half of the buffer.
    mneme_op op{};
    op.struct_size = sizeof(op);
    op.type = MNEME_OP_SCALE;
    op.n_src = 1;
    op.src[0] = f32_view(buf, 4, 3);
    op.dst = f32_view(buf, 4, 3);
    op.dst.offset = 12 * sizeof(float);
    mneme_op_scale p{2.0, 1.0};
    op.params = &p;
    op.params_size = sizeof(p);
    REQUIRE(t->queue_submit(be, q, &op, 1) == MNEME_OK);
    REQUIRE(t->queue_sync(be, q) == MNEME_OK);
    std::vector<float> y(12);
    REQUIRE(t->buffer_download(be, buf, 12 * sizeof(float), y.data(), y.size() * sizeof(float)) == MNEME_OK);
    for (std::size_t i = 0; i < y.size(); ++i) CHECK(y[i] == 2.0f * x[i] + 1.0f);

    // A view past the end of its buffer is refused on the host, with a message.
    op.dst.offset = 13 * sizeof(float);
    CHECK(t->queue_submit(be, q, &op, 1) == MNEME_ERROR_INVALID_ARGUMENT);
    CHECK(std::string(t->last_error()).find("exceeds") != std::string::npos);
    CHECK(t->buffer_download(be, buf, 20 * sizeof(float), y.data(), 8 * sizeof(float)) == MNEME_ERROR_INVALID_ARGUMENT);

    t->buffer_free(be, buf);
    t->queue_destroy(be, q);
    t->close(be);
}
