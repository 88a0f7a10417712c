// Header-only helpers every backend plugin uses at its C boundary: exceptions never cross it, and
// the detail of the last failure is kept per thread for the host to read.
#pragma once

#include <mneme/mneme_plugin.h>

#include <new>
#include <sstream>
#include <stdexcept>
#include <string>

namespace mneme::plugin {

class failure : public std::runtime_error {
public:
    failure(mneme_status status, const std::string& msg) : std::runtime_error(msg), status_(status) {}
    mneme_status status() const noexcept { return status_; }

private:
    mneme_status status_;
};

inline std::string& last_error_storage() {
    thread_local std::string message;
    return message;
}

template <class... Args>
[[noreturn]] void raise(mneme_status status, Args&&... args) {
    std::ostringstream os;
    (os << ... << args);
    throw failure(status, os.str());
}

template <class F>
mneme_status guarded(F&& f) noexcept {
    try {
        last_error_storage().clear();
        return f();
    } catch (const failure& e) {
        last_error_storage() = e.what();
        return e.status();
    } catch (const std::bad_alloc&) {
        last_error_storage() = "out of memory";
        return MNEME_ERROR_OUT_OF_MEMORY;
    } catch (const std::exception& e) {
        last_error_storage() = e.what();
        return MNEME_ERROR_INTERNAL;
    } catch (...) {
        last_error_storage() = "unknown exception";
        return MNEME_ERROR_INTERNAL;
    }
}

inline int64_t dtype_size(mneme_dtype t) { return mneme_dtype_size(t); }

}  // namespace mneme::plugin
