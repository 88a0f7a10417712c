#include "cpu-backend.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "mneme_kernels/cpu-fast.h"
#include "plugin-boundary.h"

using mneme::plugin::guarded;
using mneme::plugin::raise;

namespace {

std::string cpu_model_name() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) == 0) {
            const auto colon = line.find(':');
            if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
        }
    }
    return "CPU";
}

uint64_t pages_to_bytes(long pages) {
    const long page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
}

// MNEME_CPU_ISA (reference | scalar | avx2 | avx512 | amx) narrows the float32 kernels for measurements;
// by default the best instruction set the CPU supports is used. Returns the choice in words.
const char* kernel_choice() {
    namespace fast = mneme::kernels::fast;
    static const char* const choice = [] {
        const char* env = std::getenv("MNEME_CPU_ISA");
        const std::string want = env ? env : "";
        fast::set_reference_only(want == "reference");
        // MNEME_CPU_PREFETCH (on | off) forces the decode products' software prefetch for
        // measurements; by default the first products try both (see fast::set_row_prefetch).
        const char* prefetch = std::getenv("MNEME_CPU_PREFETCH");
        const std::string pf = prefetch ? prefetch : "";
        if (pf == "on" || pf == "off")
            fast::set_row_prefetch(pf == "on" ? fast::row_prefetch::on : fast::row_prefetch::off);
        if (want == "reference") return "reference";
        return fast::isa_name(fast::select_isa(fast::isa_at_most(want.c_str())));
    }();
    return choice;
}

mneme_status MNEME_CALL probe(const mneme_host_api*, mneme_plugin_probe_info* out) {
    return guarded([&] {
        if (!out) raise(MNEME_ERROR_INVALID_ARGUMENT, "probe: out is NULL");
        out->score = 10;  // always usable, below any working GPU
        out->device_count = 1;
        std::snprintf(out->message, sizeof(out->message), "%ld logical cores, %s kernels",
                      sysconf(_SC_NPROCESSORS_ONLN), kernel_choice());
        return MNEME_OK;
    });
}

mneme_status MNEME_CALL device_info(const mneme_host_api*, uint32_t device, mneme_plugin_device_info* out) {
    return guarded([&] {
        if (!out || device != 0) raise(MNEME_ERROR_INVALID_ARGUMENT, "device_info: bad device ", device);
        out->type = MNEME_DEVICE_TYPE_CPU;
        std::snprintf(out->name, sizeof(out->name), "%s", cpu_model_name().c_str());
        out->memory_total_bytes = pages_to_bytes(sysconf(_SC_PHYS_PAGES));
        out->memory_free_bytes = pages_to_bytes(sysconf(_SC_AVPHYS_PAGES));
        return MNEME_OK;
    });
}

mneme_status MNEME_CALL open(const mneme_host_api* host, uint32_t device, mneme_backend** out) {
    return guarded([&] {
        if (!host || !out || device != 0) raise(MNEME_ERROR_INVALID_ARGUMENT, "open: bad arguments");
        kernel_choice();  // instruction set fixed before the first op
        auto* be = new mneme_backend{host, {}, std::max<uint32_t>(host->n_threads, 1), {}};
        be->exec.host = host->host;
        be->exec.parallel_for = host->parallel_for;
        *out = be;
        return MNEME_OK;
    });
}

void MNEME_CALL close(mneme_backend* be) { delete be; }

mneme_status MNEME_CALL buffer_alloc(mneme_backend* be, uint64_t size, uint32_t, mneme_buffer** out) {
    return guarded([&] {
        if (!be || !out) raise(MNEME_ERROR_INVALID_ARGUMENT, "buffer_alloc: bad arguments");
        void* p = be->host->alloc(be->host->host, size ? size : 1, 64);
        if (!p) raise(MNEME_ERROR_OUT_OF_MEMORY, "cannot allocate ", size, " bytes");
        *out = new mneme_buffer{static_cast<uint8_t*>(p), size, true};
        return MNEME_OK;
    });
}

mneme_status MNEME_CALL buffer_wrap_host(mneme_backend* be, void* ptr, uint64_t size, mneme_buffer** out) {
    return guarded([&] {
        if (!be || !out || (!ptr && size)) raise(MNEME_ERROR_INVALID_ARGUMENT, "buffer_wrap_host: bad arguments");
        *out = new mneme_buffer{static_cast<uint8_t*>(ptr), size, false};
        return MNEME_OK;
    });
}

void MNEME_CALL buffer_free(mneme_backend* be, mneme_buffer* b) {
    if (!b) return;
    if (b->owned && be) be->host->free(be->host->host, b->data);
    delete b;
}

void* MNEME_CALL buffer_host_ptr(mneme_backend*, mneme_buffer* b) { return b ? b->data : nullptr; }

mneme_status MNEME_CALL buffer_upload(mneme_backend*, mneme_buffer* b, uint64_t offset, const void* src,
                                      uint64_t size) {
    return guarded([&] {
        if (!b || (!src && size) || offset > b->size || size > b->size - offset) {
            raise(MNEME_ERROR_INVALID_ARGUMENT, "buffer_upload: range out of bounds");
        }
        if (size) std::memcpy(b->data + offset, src, size);
        mneme::cpu::forget_contents(*b);
        return MNEME_OK;
    });
}

mneme_status MNEME_CALL buffer_download(mneme_backend*, mneme_buffer* b, uint64_t offset, void* dst, uint64_t size) {
    return guarded([&] {
        if (!b || (!dst && size) || offset > b->size || size > b->size - offset) {
            raise(MNEME_ERROR_INVALID_ARGUMENT, "buffer_download: range out of bounds");
        }
        if (size) std::memcpy(dst, b->data + offset, size);
        return MNEME_OK;
    });
}

mneme_status MNEME_CALL queue_create(mneme_backend* be, mneme_queue** out) {
    return guarded([&] {
        if (!be || !out) raise(MNEME_ERROR_INVALID_ARGUMENT, "queue_create: bad arguments");
        *out = new mneme_queue{0};
        return MNEME_OK;
    });
}

void MNEME_CALL queue_destroy(mneme_backend*, mneme_queue* q) { delete q; }

mneme_status MNEME_CALL queue_submit(mneme_backend* be, mneme_queue* q, const mneme_op* ops, size_t n_ops) {
    return guarded([&] {
        if (!be || !q || (!ops && n_ops)) raise(MNEME_ERROR_INVALID_ARGUMENT, "queue_submit: bad arguments");
        // What the plugin knows of a buffer's contents is forgotten before and after each write
        // to it (before: an op that fails half way may have written part of its output).
        if (!be->profile.enabled()) {
            for (size_t i = 0; i < n_ops;) {
                mneme::cpu::forget_written(ops + i, 1);
                const size_t ran = mneme::cpu::execute_some(*be, ops + i, n_ops - i);
                mneme::cpu::forget_written(ops + i, ran);
                i += ran;
            }
            return MNEME_OK;
        }
        const auto since_epoch = [] {
            return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                             std::chrono::steady_clock::now().time_since_epoch())
                                             .count());
        };
        if (n_ops) be->profile.submit_started(since_epoch(), ops[0]);
        for (size_t i = 0; i < n_ops;) {
            mneme::cpu::forget_written(ops + i, 1);
            const auto t0 = std::chrono::steady_clock::now();
            const size_t ran = mneme::cpu::execute_some(*be, ops + i, n_ops - i);
            const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0);
            mneme::cpu::forget_written(ops + i, ran);
            // Ops run side by side share their time equally.
            for (size_t j = i; j < i + ran; ++j) be->profile.record(ops[j], static_cast<uint64_t>(ns.count()) / ran);
            i += ran;
        }
        if (n_ops) be->profile.submit_ended(since_epoch(), ops[n_ops - 1]);
        return MNEME_OK;
    });
}

mneme_status MNEME_CALL queue_sync(mneme_backend*, mneme_queue*) { return MNEME_OK; }

mneme_bool MNEME_CALL supports_op(mneme_backend*, const mneme_op* op) {
    return op && mneme::cpu::supports(*op) ? MNEME_TRUE : MNEME_FALSE;
}

const char* MNEME_CALL last_error() { return mneme::plugin::last_error_storage().c_str(); }

const mneme_plugin_v1 k_table = {
    sizeof(mneme_plugin_v1),
    MNEME_PLUGIN_ABI_MAJOR,
    MNEME_PLUGIN_ABI_MINOR,
    "cpu",
    "0.1.0 reference",
    probe,
    device_info,
    open,
    close,
    buffer_alloc,
    buffer_wrap_host,
    buffer_free,
    buffer_host_ptr,
    buffer_upload,
    buffer_download,
    queue_create,
    queue_destroy,
    queue_submit,
    queue_sync,
    supports_op,
    last_error,
};

}  // namespace

extern "C" const mneme_plugin_v1* mneme_cpu_plugin_table(void) { return &k_table; }
