// A backend plugin for tests of device failures: the CPU backend under the name "faulty", whose
// queue fails on request the way a GPU does when a kernel faults. Armed through an extra exported
// function (the test finds it with dlsym): the n-th queue_submit from then on fails with
// MNEME_ERROR_DEVICE_LOST; a transient fault is that one call, a persistent one (a lost context)
// also fails every later submit, sync and transfer until disarmed. Its probe score is the lowest,
// so it is used only when asked for by name.
#include <mneme/mneme_plugin.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "cpu-backend.h"
#include "plugin-boundary.h"

namespace {

std::atomic<int64_t> submits{0};   // queue_submit calls so far
std::atomic<int64_t> fail_at{-1};  // submit number that fails, -1 = none
std::atomic<bool> persistent{false};
std::atomic<bool> lost{false};

const mneme_plugin_v1& cpu() {
    return *mneme_cpu_plugin_table();
}

mneme_status lost_device(const char* what) {
    mneme::plugin::last_error_storage() =
        std::string(what) +
        ": simulated device fault: cudaErrorIllegalAddress (an illegal memory access was encountered)";
    return MNEME_ERROR_DEVICE_LOST;
}

mneme_status MNEME_CALL probe(const mneme_host_api* host, mneme_plugin_probe_info* out) {
    const mneme_status st = cpu().probe(host, out);
    if (st == MNEME_OK) out->score = 1;
    return st;
}

mneme_status MNEME_CALL upload(mneme_backend* be, mneme_buffer* b, uint64_t offset, const void* src, uint64_t size) {
    if (lost) return lost_device("upload");
    return cpu().buffer_upload(be, b, offset, src, size);
}

mneme_status MNEME_CALL download(mneme_backend* be, mneme_buffer* b, uint64_t offset, void* dst, uint64_t size) {
    if (lost) return lost_device("download");
    return cpu().buffer_download(be, b, offset, dst, size);
}

mneme_status MNEME_CALL submit(mneme_backend* be, mneme_queue* q, const mneme_op* ops, size_t n) {
    const int64_t k = submits.fetch_add(1);
    if (lost) return lost_device("run operations");
    if (k == fail_at.load()) {
        lost = persistent.load();
        return lost_device("run operations");
    }
    return cpu().queue_submit(be, q, ops, n);
}

mneme_status MNEME_CALL sync(mneme_backend* be, mneme_queue* q) {
    if (lost) return lost_device("synchronise");
    return cpu().queue_sync(be, q);
}

mneme_plugin_v1 make_table() {
    mneme_plugin_v1 t = cpu();
    t.name = "faulty";
    t.version = "test";
    t.probe = probe;
    t.buffer_wrap_host = nullptr;  // everything goes through buffer_upload, as on a GPU
    t.buffer_upload = upload;
    t.buffer_download = download;
    t.queue_submit = submit;
    t.queue_sync = sync;
    return t;
}

}  // namespace

// The submit count so far; arms the fault at `after` submits from now (-1 disarms and clears it).
extern "C" MNEME_PLUGIN_EXPORT int64_t mneme_faulty_arm(int64_t after, int persist) {
    const int64_t now = submits.load();
    persistent = persist != 0;
    lost = false;
    fail_at = after < 0 ? -1 : now + after;
    return now;
}

extern "C" MNEME_PLUGIN_EXPORT const mneme_plugin_v1* MNEME_CALL mneme_plugin_entry_v1(uint32_t host_abi_major,
                                                                                       uint32_t) {
    static const mneme_plugin_v1 table = make_table();
    return host_abi_major == MNEME_PLUGIN_ABI_MAJOR ? &table : nullptr;
}
