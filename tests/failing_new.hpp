// Out of memory, injected, for a test program: the global operator new
// replaced so that a test can make every allocation of its own thread fail
// after a countdown (failing_after), and counting the blocks and the bytes
// each thread holds (live_blocks, live_bytes). It defines the operators:
// include it in one file of a program only.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace {

/// Allocations this thread may still make before they fail; -1: no limit.
thread_local long allocation_budget = -1;

/// Bytes this thread requested minus bytes it released: what a table's
/// info().memory is checked against. Per thread, because the actor system's
/// own threads allocate at any time; a table written and reclaimed on one
/// thread allocates and frees on that thread.
thread_local long long live_bytes = 0;

/// Blocks this thread allocated minus blocks it released.
thread_local long live_blocks = 0;

/// Each block carries its requested size (and the header's length) in a
/// header in front of it, so that unsized deletes can count it.
void* allocate(std::size_t n, std::size_t align) {
  if (allocation_budget == 0)
    throw std::bad_alloc{};
  if (allocation_budget > 0)
    --allocation_budget;
  n = n == 0 ? 1 : n;
  auto head = std::max<std::size_t>(align, 2 * sizeof(std::size_t));
  auto total = n + head;
  void* p = align <= alignof(std::max_align_t)
              ? std::malloc(total)
              : std::aligned_alloc(align, (total + align - 1) / align * align);
  if (p == nullptr)
    throw std::bad_alloc{};
  auto* user = static_cast<char*>(p) + head;
  reinterpret_cast<std::size_t*>(user)[-1] = n;
  reinterpret_cast<std::size_t*>(user)[-2] = head;
  live_bytes += static_cast<long long>(n);
  ++live_blocks;
  return user;
}

void release(void* p) noexcept {
  if (p == nullptr)
    return;
  auto* user = static_cast<char*>(p);
  auto n = reinterpret_cast<std::size_t*>(user)[-1];
  auto head = reinterpret_cast<std::size_t*>(user)[-2];
  live_bytes -= static_cast<long long>(n);
  --live_blocks;
  std::free(user - head);
}

/// Lets this thread make `n` more allocations, then fails the rest, until
/// the scope ends; `n` is unlimited until set. Declared before the objects
/// whose destruction it covers, it is still in force while they go.
class failing_after {
public:
  failing_after() = default;
  explicit failing_after(long n) {
    set(n);
  }
  ~failing_after() {
    allocation_budget = -1;
  }
  void set(long n) {
    allocation_budget = n;
  }
  failing_after(const failing_after&) = delete;
  failing_after& operator=(const failing_after&) = delete;
};

} // namespace

// These operators are one matched family (malloc and free underneath); GCC,
// inlining them into CAF's templates, takes free() of what `new` returned
// for a mismatch.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

void* operator new(std::size_t n) {
  return allocate(n, alignof(std::max_align_t));
}
void* operator new[](std::size_t n) {
  return allocate(n, alignof(std::max_align_t));
}
void* operator new(std::size_t n, std::align_val_t a) {
  return allocate(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return allocate(n, static_cast<std::size_t>(a));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return allocate(n, alignof(std::max_align_t));
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return allocate(n, alignof(std::max_align_t));
  } catch (...) {
    return nullptr;
  }
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
