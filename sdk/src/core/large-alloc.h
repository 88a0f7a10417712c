// Large host buffers (model caches, scratch) straight from the kernel with mmap, so that freeing
// one returns its memory to the system at once. Through malloc they would land in the heap, where
// glibc keeps freed blocks resident (its mmap threshold rises to 32 MiB after the first large
// free), and a process's memory would stay at its peak after every cache growth or scratch resize.
#pragma once

#include <cstddef>

namespace mneme {

// Anonymous pages for `size` bytes aligned to `align` (≤ the page size), transparent huge pages
// asked for from 2 MiB on (MADV_HUGEPAGE: used where the system allows), or nullptr when the
// request is small, oddly aligned, or the build runs under a sanitizer (whose allocator must see
// every buffer to check accesses to it).
void* large_alloc(std::size_t size, std::size_t align) noexcept;
// Frees p if large_alloc returned it; false otherwise (the caller frees it as it allocated it).
bool large_free(void* p) noexcept;

}  // namespace mneme
