// The CUDA plugin module through its C table, loaded with dlopen exactly as the runtime loads it.
// On a machine without a driver or GPU the probe must report "no device" (score 0, a message naming
// the CUDA error) and every later call must fail cleanly; with a GPU, a buffer round trip and one op
// run on the device.
#include <dlfcn.h>
#include <mneme/mneme_plugin.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace {

// What the plugin logs through the host (the upload staging reports its counts at close).
std::mutex log_mutex;
std::vector<std::string> logged;

void MNEME_CALL host_log(void*, mneme_log_level, const char* message) {
    std::lock_guard lock(log_mutex);
    logged.emplace_back(message ? message : "");
}
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

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

mneme_op scale_op(const mneme_tensor& dst, const mneme_tensor& src, const mneme_op_scale& p) {
    mneme_op op{};
    op.struct_size = sizeof(op);
    op.type = MNEME_OP_SCALE;
    op.n_src = 1;
    op.src[0] = src;
    op.dst = dst;
    op.params = &p;
    op.params_size = sizeof(p);
    return op;
}

}  // namespace

TEST_CASE("with a GPU: an upload returns before the queued kernels finish and lands between them", "[cuda]") {
    const mneme_host_api host = make_host();
    if (probe_once(host).score == 0) {
        WARN("no CUDA device: asynchronous upload not run");
        return;
    }
    const mneme_plugin_v1* t = table();
    mneme_backend* be = nullptr;
    REQUIRE(t->open(&host, 0, &be) == MNEME_OK);
    mneme_queue* q = nullptr;
    REQUIRE(t->queue_create(be, &q) == MNEME_OK);

    // Slow work: 96 matmuls [2048 x 256] x [2048 x 2048], all reading x.
    const int64_t k = 2048, n = 2048, r = 256;
    mneme_buffer *w = nullptr, *x = nullptr, *y = nullptr, *a = nullptr, *b = nullptr;
    REQUIRE(t->buffer_alloc(be, static_cast<uint64_t>(k * n * 4), 0, &w) == MNEME_OK);
    REQUIRE(t->buffer_alloc(be, static_cast<uint64_t>(k * r * 4), 0, &x) == MNEME_OK);
    REQUIRE(t->buffer_alloc(be, static_cast<uint64_t>(n * r * 4), 0, &y) == MNEME_OK);
    REQUIRE(t->buffer_alloc(be, static_cast<uint64_t>(k * r * 4), 0, &a) == MNEME_OK);
    REQUIRE(t->buffer_alloc(be, static_cast<uint64_t>(k * r * 4), 0, &b) == MNEME_OK);
    std::vector<float> host_w(static_cast<std::size_t>(k * n), 0.001f), old_x(static_cast<std::size_t>(k * r), 1.0f);
    REQUIRE(t->buffer_upload(be, w, 0, host_w.data(), host_w.size() * 4) == MNEME_OK);
    REQUIRE(t->buffer_upload(be, x, 0, old_x.data(), old_x.size() * 4) == MNEME_OK);
    REQUIRE(t->queue_sync(be, q) == MNEME_OK);

    mneme_op mm{};
    mm.struct_size = sizeof(mm);
    mm.type = MNEME_OP_MATMUL;
    mm.n_src = 2;
    mm.src[0] = f32_view(x, k, r);
    mm.src[1] = f32_view(w, k, n);
    mm.dst = f32_view(y, n, r);
    const mneme_op_scale twice{2.0, 0.0};
    const auto t_submit = std::chrono::steady_clock::now();
    for (int i = 0; i < 96; ++i) REQUIRE(t->queue_submit(be, q, &mm, 1) == MNEME_OK);
    const mneme_op before = scale_op(f32_view(a, k, r), f32_view(x, k, r), twice);
    REQUIRE(t->queue_submit(be, q, &before, 1) == MNEME_OK);
    const double submit_ms = ms_since(t_submit);

    // x changes between the op before (must see 1.0) and the op after (must see 3.0); the host's
    // memory is scribbled over as soon as the call returns.
    std::vector<float> new_x(old_x.size(), 3.0f);
    const auto t_upload = std::chrono::steady_clock::now();
    REQUIRE(t->buffer_upload(be, x, 0, new_x.data(), new_x.size() * 4) == MNEME_OK);
    const double upload_ms = ms_since(t_upload);
    std::fill(new_x.begin(), new_x.end(), -7.0f);
    const mneme_op after = scale_op(f32_view(b, k, r), f32_view(x, k, r), twice);
    REQUIRE(t->queue_submit(be, q, &after, 1) == MNEME_OK);
    const auto t_sync = std::chrono::steady_clock::now();
    REQUIRE(t->queue_sync(be, q) == MNEME_OK);
    const double sync_ms = ms_since(t_sync);
    std::printf(
        "upload overlap: submitting 97 ops took %.3f ms, the %.1f MiB upload returned after %.3f ms, the "
        "queue then still ran %.3f ms\n",
        submit_ms, static_cast<double>(new_x.size() * 4) / (1 << 20), upload_ms, sync_ms);
    CHECK(upload_ms < sync_ms);  // it did not wait for the matmuls queued before it

    std::vector<float> got(old_x.size());
    REQUIRE(t->buffer_download(be, a, 0, got.data(), got.size() * 4) == MNEME_OK);
    CHECK(std::all_of(got.begin(), got.end(), [](float v) { return v == 2.0f; }));
    REQUIRE(t->buffer_download(be, b, 0, got.data(), got.size() * 4) == MNEME_OK);
    CHECK(std::all_of(got.begin(), got.end(), [](float v) { return v == 6.0f; }));

    // Larger than the whole staging ring: streamed through it, byte for byte.
    const std::size_t big = (std::size_t{80} << 20) + 13;
    mneme_buffer* large = nullptr;
    REQUIRE(t->buffer_alloc(be, big, 0, &large) == MNEME_OK);
    std::vector<unsigned char> bytes(big), back(big);
    for (std::size_t i = 0; i < big; ++i) bytes[i] = static_cast<unsigned char>(i * 2654435761u >> 13);
    const auto t_big = std::chrono::steady_clock::now();
    REQUIRE(t->buffer_upload(be, large, 0, bytes.data(), big) == MNEME_OK);
    REQUIRE(t->queue_sync(be, q) == MNEME_OK);
    std::printf("upload overlap: %.1f MiB through the staging ring in %.3f ms\n", static_cast<double>(big) / (1 << 20),
                ms_since(t_big));
    REQUIRE(t->buffer_download(be, large, 0, back.data(), big) == MNEME_OK);
    CHECK(bytes == back);

    for (mneme_buffer* buf : {w, x, y, a, b, large}) t->buffer_free(be, buf);
    t->queue_destroy(be, q);
    t->close(be);
    std::lock_guard lock(log_mutex);
    bool reported = false;
    for (const auto& line : logged) {
        if (line.find("pinned staging") != std::string::npos) {
            std::printf("upload overlap: plugin says \"%s\"\n", line.c_str());
            reported = line.find("uploads through pinned staging: 0 ") == std::string::npos;
        }
    }
    CHECK(reported);  // uploads really went through the staging ring
}

TEST_CASE("with a GPU: the host never runs more than a few batches ahead of the device", "[cuda]") {
    const mneme_host_api host = make_host();
    if (probe_once(host).score == 0) {
        WARN("no CUDA device: run-ahead limit not checked");
        return;
    }
    const mneme_plugin_v1* t = table();
    mneme_backend* be = nullptr;
    REQUIRE(t->open(&host, 0, &be) == MNEME_OK);
    mneme_queue* q = nullptr;
    REQUIRE(t->queue_create(be, &q) == MNEME_OK);
    const int64_t k = 2048, n = 2048, r = 256;
    mneme_buffer *w = nullptr, *x = nullptr, *y = nullptr;
    REQUIRE(t->buffer_alloc(be, static_cast<uint64_t>(k * n * 4), 0, &w) == MNEME_OK);
    REQUIRE(t->buffer_alloc(be, static_cast<uint64_t>(k * r * 4), 0, &x) == MNEME_OK);
    REQUIRE(t->buffer_alloc(be, static_cast<uint64_t>(n * r * 4), 0, &y) == MNEME_OK);
    mneme_op mm{};
    mm.struct_size = sizeof(mm);
    mm.type = MNEME_OP_MATMUL;
    mm.n_src = 2;
    mm.src[0] = f32_view(x, k, r);
    mm.src[1] = f32_view(w, k, n);
    mm.dst = f32_view(y, n, r);
    // 1024 slow ops in batches of 64: the submissions must wait for the device (they would all be
    // queued in a few milliseconds otherwise), and the tail left at the end is bounded.
    const std::vector<mneme_op> batch(64, mm);
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 16; ++i) REQUIRE(t->queue_submit(be, q, batch.data(), batch.size()) == MNEME_OK);
    const double submit_ms = ms_since(t0);
    const auto t1 = std::chrono::steady_clock::now();
    REQUIRE(t->queue_sync(be, q) == MNEME_OK);
    const double tail_ms = ms_since(t1);
    std::printf("run-ahead: submitting 1024 matmuls took %.3f ms; the work still queued then took %.3f ms\n", submit_ms,
                tail_ms);
    CHECK(tail_ms < 0.5 * (submit_ms + tail_ms));  // at most 256 of the 1024 ops were left
    for (mneme_buffer* buf : {w, x, y}) t->buffer_free(be, buf);
    t->queue_destroy(be, q);
    t->close(be);
}
