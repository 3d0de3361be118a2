#include "cachet/detail/pages.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <new>

#include <sys/mman.h>

namespace cachet::detail {

namespace {

constexpr std::size_t huge_page = std::size_t{2} << 20;

std::atomic<std::size_t> mapped{0};

std::size_t round_up(std::size_t bytes) noexcept {
  return (bytes + huge_page - 1) & ~(huge_page - 1);
}

} // namespace

void* map_pages(std::size_t bytes, std::size_t huge) {
  auto len = round_up(bytes);
  // One huge page more than needed, then the unaligned ends go back.
  auto* raw = mmap(nullptr, len + huge_page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED)
    throw std::bad_alloc();
  auto base = reinterpret_cast<std::uintptr_t>(raw);
  auto start = (base + huge_page - 1) & ~(huge_page - 1);
  if (start > base)
    munmap(raw, start - base);
  if (auto tail = base + len + huge_page - (start + len); tail > 0)
    munmap(reinterpret_cast<void*>(start + len), tail);
  auto* p = reinterpret_cast<void*>(start);
  // Advice only: without it the block works the same.
  auto big = std::min(len, huge & ~(huge_page - 1));
  if (big > 0)
    madvise(p, big, MADV_HUGEPAGE);
  if (big < len)
    madvise(static_cast<char*>(p) + big, len - big, MADV_NOHUGEPAGE);
  mapped.fetch_add(len, std::memory_order_relaxed);
  return p;
}

void unmap_pages(void* p, std::size_t bytes) noexcept {
  munmap(p, round_up(bytes));
  mapped.fetch_sub(round_up(bytes), std::memory_order_relaxed);
}

std::size_t mapped_bytes() noexcept {
  return mapped.load(std::memory_order_relaxed);
}

} // namespace cachet::detail
