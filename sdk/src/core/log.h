// Logging: a host callback per runtime, a process-wide default, and stderr as the last resort
// for warnings and errors (silenced by MNEME_LOG=off). Nothing ever goes to stdout.
#pragma once

#include <mneme/mneme.h>

#include <string>

#include "core/error.h"

namespace mneme {

struct log_sink {
    mneme_log_fn fn = nullptr;
    void* user_data = nullptr;
    mneme_log_level min_level = MNEME_LOG_LEVEL_DEFAULT;
};

void set_global_log_sink(const log_sink& sink) noexcept;
log_sink global_log_sink() noexcept;

// Emits one line through `sink` (or the global sink when sink.fn is null).
void log_line(const log_sink& sink, mneme_log_level level, const char* category, const std::string& message) noexcept;

class logger {
public:
    logger() = default;
    explicit logger(log_sink sink) : sink_(sink) {}

    template <class... Args>
    void debug(const char* category, Args&&... args) const {
        emit(MNEME_LOG_LEVEL_DEBUG, category, std::forward<Args>(args)...);
    }
    template <class... Args>
    void info(const char* category, Args&&... args) const {
        emit(MNEME_LOG_LEVEL_INFO, category, std::forward<Args>(args)...);
    }
    template <class... Args>
    void warn(const char* category, Args&&... args) const {
        emit(MNEME_LOG_LEVEL_WARN, category, std::forward<Args>(args)...);
    }
    template <class... Args>
    void error(const char* category, Args&&... args) const {
        emit(MNEME_LOG_LEVEL_ERROR, category, std::forward<Args>(args)...);
    }
    void line(mneme_log_level level, const char* category, const std::string& message) const noexcept {
        log_line(sink_, level, category, message);
    }
    bool enabled(mneme_log_level level) const noexcept;

private:
    template <class... Args>
    void emit(mneme_log_level level, const char* category, Args&&... args) const {
        if (enabled(level)) log_line(sink_, level, category, cat(std::forward<Args>(args)...));
    }
    log_sink sink_;
};

}  // namespace mneme
