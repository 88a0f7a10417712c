#include "plugin/registry.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace mneme {
namespace fs = std::filesystem;

namespace {

constexpr const char* k_prefix = "libmneme-backend-";

bool looks_like_plugin_file(const fs::path& p) {
    const std::string n = p.filename().string();
    return n.rfind(k_prefix, 0) == 0 && p.extension() == ".so";
}

std::vector<std::string> split_path_list(const char* s) {
    std::vector<std::string> out;
    if (!s) return out;
    std::string cur;
    for (const char* c = s;; ++c) {
        if (*c == ':' || *c == '\0') {
            if (!cur.empty()) out.push_back(cur);
            cur.clear();
            if (*c == '\0') break;
        } else {
            cur.push_back(*c);
        }
    }
    return out;
}

std::string bounded(const char* s, std::size_t cap) {
    return s ? std::string(s, strnlen(s, cap)) : std::string();
}

}  // namespace

std::string library_directory() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<const void*>(&library_directory), &info) && info.dli_fname) {
        std::error_code ec;
        fs::path p = fs::canonical(info.dli_fname, ec);
        if (!ec) return p.parent_path().string();
    }
    return {};
}

plugin_registry::plugin_registry(const mneme_host_api* host, logger log) : host_(host), log_(log) {}

plugin_registry::~plugin_registry() {
    // Unload in reverse order of loading.
    for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
        if (it->handle) dlclose(it->handle);
    }
}

void plugin_registry::discover(const plugin_search& search) {
    for (const auto& p : search.explicit_paths) {
        std::error_code ec;
        if (fs::is_directory(p, ec)) {
            examine_directory(p, true);
        } else if (fs::exists(p, ec)) {
            examine_file(p);
        } else {
            plugin_entry e;
            e.path = p;
            e.state = MNEME_PLUGIN_STATE_NOT_FOUND;
            e.message = "no such file or directory";
            log_.warn("loader", "plugin path ", p, ": ", e.message);
            entries_.push_back(std::move(e));
        }
    }
    if (search.use_env) {
        for (const auto& dir : split_path_list(std::getenv("MNEME_PLUGIN_PATH"))) examine_directory(dir, true);
    }
    if (search.use_default) {
        const std::string libdir = library_directory();
        if (!libdir.empty()) {
            examine_directory(libdir, false);
            examine_directory((fs::path(libdir) / "mneme" / "plugins").string(), false);
        }
    }
}

void plugin_registry::examine_directory(const std::string& dir, bool report_missing) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        if (report_missing) {
            plugin_entry e;
            e.path = dir;
            e.state = MNEME_PLUGIN_STATE_NOT_FOUND;
            e.message = "plugin directory does not exist";
            log_.warn("loader", dir, ": ", e.message);
            entries_.push_back(std::move(e));
        }
        return;
    }
    std::vector<fs::path> files;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (looks_like_plugin_file(it->path())) files.push_back(it->path());
    }
    std::sort(files.begin(), files.end());  // deterministic order
    for (const auto& f : files) examine_file(f.string());
}

void plugin_registry::examine_file(const std::string& path) {
    std::error_code ec;
    const std::string canon = fs::weakly_canonical(path, ec).string();
    if (std::find(seen_.begin(), seen_.end(), canon) != seen_.end()) return;
    seen_.push_back(canon);

    plugin_entry e;
    e.path = path;
    log_.debug("loader", "examining ", path);

    e.handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!e.handle) {
        const char* err = dlerror();
        e.state = MNEME_PLUGIN_STATE_LOAD_FAILED;
        e.message = err ? err : "dlopen failed";
        log_.info("loader", path, ": cannot load: ", e.message);
        entries_.push_back(std::move(e));
        return;
    }
    auto entry_fn = reinterpret_cast<mneme_plugin_entry_v1_fn>(dlsym(e.handle, MNEME_PLUGIN_ENTRY_V1_SYMBOL));
    if (!entry_fn) {
        e.state = MNEME_PLUGIN_STATE_NOT_A_PLUGIN;
        e.message = std::string("not a Mneme plugin (no ") + MNEME_PLUGIN_ENTRY_V1_SYMBOL + " symbol)";
        dlclose(e.handle);
        e.handle = nullptr;
        log_.info("loader", path, ": ", e.message);
        entries_.push_back(std::move(e));
        return;
    }
    const mneme_plugin_v1* t = entry_fn(MNEME_PLUGIN_ABI_MAJOR, MNEME_PLUGIN_ABI_MINOR);
    if (!t || t->abi_major != MNEME_PLUGIN_ABI_MAJOR || t->struct_size < MNEME_PLUGIN_V1_0_SIZE) {
        e.state = MNEME_PLUGIN_STATE_ABI_MISMATCH;
        if (!t) {
            e.message = cat("plugin refused host plugin ABI ", MNEME_PLUGIN_ABI_MAJOR, ".", MNEME_PLUGIN_ABI_MINOR);
        } else {
            e.name = bounded(t->name, 64);
            e.message = cat("plugin ABI ", t->abi_major, ".", t->abi_minor, " (table size ", t->struct_size,
                            "), host supports ", MNEME_PLUGIN_ABI_MAJOR, ".x");
        }
        dlclose(e.handle);
        e.handle = nullptr;
        log_.warn("loader", path, ": ", e.message);
        entries_.push_back(std::move(e));
        return;
    }
    e.name = bounded(t->name, 64);
    e.version = bounded(t->version, 128);
    for (const auto& other : entries_) {
        if (other.state == MNEME_PLUGIN_STATE_LOADED && other.name == e.name) {
            e.state = MNEME_PLUGIN_STATE_DUPLICATE;
            e.message = cat("a '", e.name, "' plugin was already loaded from ", other.path);
            dlclose(e.handle);
            e.handle = nullptr;
            log_.info("loader", path, ": ", e.message);
            entries_.push_back(std::move(e));
            return;
        }
    }
    if (!t->probe || !t->device_info || !t->open || !t->close || !t->buffer_alloc || !t->buffer_free ||
        !t->buffer_upload || !t->buffer_download || !t->queue_create || !t->queue_destroy || !t->queue_submit ||
        !t->queue_sync || !t->supports_op) {
        e.state = MNEME_PLUGIN_STATE_NOT_A_PLUGIN;
        e.message = "plugin table is missing required functions";
        dlclose(e.handle);
        e.handle = nullptr;
        log_.warn("loader", path, ": ", e.message);
        entries_.push_back(std::move(e));
        return;
    }

    mneme_plugin_probe_info probe{};
    probe.struct_size = sizeof(probe);
    const mneme_status st = t->probe(host_, &probe);
    probe.message[sizeof(probe.message) - 1] = '\0';
    if (st < 0) {
        e.state = MNEME_PLUGIN_STATE_PROBE_FAILED;
        e.message = cat("probe failed: ", mneme_status_string(st), probe.message[0] ? ": " : "", probe.message);
        log_.warn("loader", path, ": ", e.message);
        // Keep the module mapped: a failed probe may still have registered thread-local state.
        entries_.push_back(std::move(e));
        return;
    }
    e.score = probe.score;
    if (probe.device_count == 0 || probe.score <= 0) {
        e.state = MNEME_PLUGIN_STATE_NO_DEVICE;
        e.message = probe.message[0] ? std::string(probe.message) : std::string("no device");  // the state says "no device"
        log_.info("loader", e.name, ": ", e.message);
        entries_.push_back(std::move(e));
        return;
    }
    for (uint32_t i = 0; i < probe.device_count; ++i) {
        mneme_plugin_device_info di{};
        di.struct_size = sizeof(di);
        if (t->device_info(host_, i, &di) != MNEME_OK) continue;
        di.name[sizeof(di.name) - 1] = '\0';
        e.devices.push_back(plugin_device{di.name, di.type, i, di.memory_total_bytes, di.memory_free_bytes});
    }
    if (e.devices.empty()) {
        e.state = MNEME_PLUGIN_STATE_NO_DEVICE;
        e.message = "no device could be described";
        entries_.push_back(std::move(e));
        return;
    }
    e.state = MNEME_PLUGIN_STATE_LOADED;
    e.table = t;
    e.message = cat(e.devices.size(), e.devices.size() == 1 ? " device" : " devices",
                    probe.message[0] ? "; " : "", probe.message);
    log_.info("loader", e.name, ": loaded from ", path, ", ", e.message);
    entries_.push_back(std::move(e));
}

const plugin_entry* plugin_registry::find(const std::string& name) const noexcept {
    for (const auto& e : entries_) {
        if (e.state == MNEME_PLUGIN_STATE_LOADED && e.name == name) return &e;
    }
    return nullptr;
}

std::vector<const plugin_entry*> plugin_registry::usable() const {
    std::vector<const plugin_entry*> out;
    for (const auto& e : entries_) {
        if (e.state == MNEME_PLUGIN_STATE_LOADED) out.push_back(&e);
    }
    std::stable_sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->score > b->score; });
    return out;
}

}  // namespace mneme
