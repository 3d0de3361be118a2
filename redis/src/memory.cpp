// The global operator new and delete of cachet-redis, counting (memory.hpp).
#include "memory.hpp"

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

#include <malloc.h>

#include <cachet/detail/pages.hpp>

// ThreadSanitizer's runtime defines the global operator new itself: a
// TSan build counts only the table's mapped arrays, so maxmemory there
// bounds nothing (the concurrency, not the accounting, is what it checks).
#if defined(__SANITIZE_THREAD__)
#  define CACHET_REDIS_COUNT_NEW 0
#elif defined(__has_feature)
#  if __has_feature(thread_sanitizer)
#    define CACHET_REDIS_COUNT_NEW 0
#  endif
#endif
#ifndef CACHET_REDIS_COUNT_NEW
#  define CACHET_REDIS_COUNT_NEW 1
#endif

namespace cachet::redis {

namespace {

std::atomic<std::int64_t> total{0};

// Trivially destructible, so that a delete running after this thread's
// other thread_locals were destroyed still finds it.
thread_local std::int64_t pending = 0;

void flush() noexcept {
  total.fetch_add(pending, std::memory_order_relaxed);
  pending = 0;
}

// Joins what is left when the thread exits; constructed on the first flush.
struct flush_at_exit {
  ~flush_at_exit() {
    flush();
  }
};
thread_local flush_at_exit exit_flusher;

#if CACHET_REDIS_COUNT_NEW

void count(std::int64_t delta) noexcept {
  pending += delta;
  if (pending > flush_step || pending < -flush_step) {
    (void) &exit_flusher;
    flush();
  }
}

void* allocate(std::size_t n, std::size_t align, bool nothrow) {
  for (;;) {
    void* p = align <= alignof(std::max_align_t)
                ? std::malloc(n == 0 ? 1 : n)
                : std::aligned_alloc(align, (n + align - 1) / align * align);
    if (p != nullptr) {
      count(static_cast<std::int64_t>(malloc_usable_size(p)));
      return p;
    }
    auto handler = std::get_new_handler();
    if (handler == nullptr) {
      if (nothrow)
        return nullptr;
      throw std::bad_alloc{};
    }
    handler();
  }
}

void release(void* p) noexcept {
  if (p == nullptr)
    return;
  count(-static_cast<std::int64_t>(malloc_usable_size(p)));
  std::free(p);
}

#endif // CACHET_REDIS_COUNT_NEW

} // namespace

std::int64_t used_memory() noexcept {
  return total.load(std::memory_order_relaxed) + pending
         + static_cast<std::int64_t>(detail::mapped_bytes());
}

} // namespace cachet::redis

#if CACHET_REDIS_COUNT_NEW

using cachet::redis::allocate;
using cachet::redis::release;

void* operator new(std::size_t n) {
  return allocate(n, 0, false);
}
void* operator new[](std::size_t n) {
  return allocate(n, 0, false);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return allocate(n, 0, true);
  } catch (...) {
    return nullptr; // a new_handler that threw
  }
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept {
  return operator new(n, t);
}
void* operator new(std::size_t n, std::align_val_t a) {
  return allocate(n, static_cast<std::size_t>(a), false);
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return allocate(n, static_cast<std::size_t>(a), false);
}
void* operator new(std::size_t n, std::align_val_t a,
                   const std::nothrow_t&) noexcept {
  try {
    return allocate(n, static_cast<std::size_t>(a), true);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, std::align_val_t a,
                     const std::nothrow_t& t) noexcept {
  return operator new(n, a, t);
}

void operator delete(void* p) noexcept {
  release(p);
}
void operator delete[](void* p) noexcept {
  release(p);
}
void operator delete(void* p, std::size_t) noexcept {
  release(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  release(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  release(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  release(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  release(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  release(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  release(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  release(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  release(p);
}
void operator delete[](void* p, std::align_val_t,
                       const std::nothrow_t&) noexcept {
  release(p);
}

#endif // CACHET_REDIS_COUNT_NEW
