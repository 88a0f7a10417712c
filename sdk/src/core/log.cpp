#include "core/log.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace mneme {
namespace {

std::mutex g_mutex;
log_sink g_sink;

mneme_log_level effective_min(mneme_log_level level) {
    return level == MNEME_LOG_LEVEL_DEFAULT ? MNEME_LOG_LEVEL_WARN : level;
}

bool stderr_disabled() {
    static const bool off = [] {
        const char* v = std::getenv("MNEME_LOG");
        return v && (std::strcmp(v, "off") == 0 || std::strcmp(v, "0") == 0);
    }();
    return off;
}

const char* level_name(mneme_log_level level) {
    switch (level) {
        case MNEME_LOG_LEVEL_DEBUG: return "debug";
        case MNEME_LOG_LEVEL_INFO: return "info";
        case MNEME_LOG_LEVEL_WARN: return "warning";
        case MNEME_LOG_LEVEL_ERROR: return "error";
        default: return "log";
    }
}

}  // namespace

void set_global_log_sink(const log_sink& sink) noexcept {
    std::lock_guard lock(g_mutex);
    g_sink = sink;
}

log_sink global_log_sink() noexcept {
    std::lock_guard lock(g_mutex);
    return g_sink;
}

void log_line(const log_sink& sink, mneme_log_level level, const char* category, const std::string& message) noexcept {
    const log_sink s = sink.fn ? sink : global_log_sink();
    if (level < effective_min(s.min_level)) return;
    if (s.fn) {
        s.fn(s.user_data, level, category, message.c_str());
        return;
    }
    if (level >= MNEME_LOG_LEVEL_WARN && !stderr_disabled()) {
        std::fprintf(stderr, "mneme %s [%s]: %s\n", level_name(level), category, message.c_str());
    }
}

bool logger::enabled(mneme_log_level level) const noexcept {
    const log_sink s = sink_.fn ? sink_ : global_log_sink();
    return level >= effective_min(s.min_level);
}

}  // namespace mneme
