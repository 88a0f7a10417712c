#include "core/large-alloc.h"

#include <sys/mman.h>
#include <unistd.h>

#include <mutex>
#include <unordered_map>

namespace mneme {

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool k_sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
constexpr bool k_sanitized = true;
#else
constexpr bool k_sanitized = false;
#endif
#else
constexpr bool k_sanitized = false;
#endif

constexpr std::size_t k_min_bytes = std::size_t{1} << 20;
constexpr std::size_t k_huge_min_bytes = std::size_t{2} << 20;

struct registry {
    std::mutex mutex;
    std::unordered_map<void*, std::size_t> sizes;
};

registry& live() {
    static registry* r = new registry;  // never destroyed: frees may come from static destructors
    return *r;
}

}  // namespace

void* large_alloc(std::size_t size, std::size_t align) noexcept {
    if (k_sanitized || size < k_min_bytes) return nullptr;
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    if (align > page) return nullptr;
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
#ifdef MADV_HUGEPAGE
    // Transparent huge pages where the system allows them on request (Debian's default, "madvise"):
    // a decoding step gathers rows scattered over caches of hundreds of MiB, and with 4 KiB pages
    // nearly every row costs a page walk (attention over 256 rows of a 32K-token cache, cold:
    // ~1 ms against ~0.1-0.2 with huge pages, on a virtual machine where page walks are dear);
    // prefill's scratch also takes 512 times fewer page faults. A failure only leaves 4 KiB pages.
    if (size >= k_huge_min_bytes) (void)::madvise(p, size, MADV_HUGEPAGE);
#endif
    try {
        registry& r = live();
        std::lock_guard lock(r.mutex);
        r.sizes.emplace(p, size);
    } catch (...) {
        ::munmap(p, size);
        return nullptr;
    }
    return p;
}

bool large_free(void* p) noexcept {
    if (k_sanitized || !p) return false;
    registry& r = live();
    std::size_t size = 0;
    {
        std::lock_guard lock(r.mutex);
        const auto it = r.sizes.find(p);
        if (it == r.sizes.end()) return false;
        size = it->second;
        r.sizes.erase(it);
    }
    ::munmap(p, size);
    return true;
}

}  // namespace mneme
