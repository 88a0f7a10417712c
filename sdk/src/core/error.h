// Errors inside the runtime are C++ exceptions carrying a mneme_status; they are turned into a
// status code plus a thread-local message exactly once, at the C API boundary (api_call).
#pragma once

#include <mneme/mneme.h>

#include <new>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace mneme {

class error : public std::runtime_error {
public:
    error(mneme_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
    mneme_status status() const noexcept { return status_; }

private:
    mneme_status status_;
};

// Concatenates any streamable values into one string: cat("tensor ", name, " has ", n, " dims").
template <class... Args>
std::string cat(Args&&... args) {
    std::ostringstream os;
    (os << ... << std::forward<Args>(args));
    return os.str();
}

template <class... Args>
[[noreturn]] void fail(mneme_status status, Args&&... args) {
    throw error(status, cat(std::forward<Args>(args)...));
}

void set_last_error(const std::string& message) noexcept;
void clear_last_error() noexcept;
const char* last_error() noexcept;

// Runs `f` (returning mneme_status) and maps every exception to a status and message.
template <class F>
mneme_status api_call(F&& f) noexcept {
    try {
        clear_last_error();
        return f();
    } catch (const error& e) {
        set_last_error(e.what());
        return e.status();
    } catch (const std::bad_alloc&) {
        set_last_error("out of memory");
        return MNEME_ERROR_OUT_OF_MEMORY;
    } catch (const std::exception& e) {
        set_last_error(std::string("internal error: ") + e.what());
        return MNEME_ERROR_INTERNAL;
    } catch (...) {
        set_last_error("internal error: unknown exception");
        return MNEME_ERROR_INTERNAL;
    }
}

// Argument check helper for the C API.
inline void require(bool ok, const char* what) {
    if (!ok) fail(MNEME_ERROR_INVALID_ARGUMENT, what);
}

}  // namespace mneme
