// Blocks mapped from the OS for group arrays: huge pages where every lookup
// reads, small pages for the overflow pool behind them, so that a pool
// taken a group at a time commits 4 KiB at a time, not 2 MiB.
#include "cachet/detail/pages.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/stat.h>

using namespace cachet::detail;

namespace {

constexpr std::size_t huge_page = std::size_t{2} << 20;

/// The VmFlags of the mapping that starts at `p` in /proc/self/smaps
/// (empty if no mapping starts there).
std::string vm_flags_at(const void* p) {
  char start[32];
  auto at = reinterpret_cast<std::uintptr_t>(p);
  std::snprintf(start, sizeof(start), "%lx-", static_cast<unsigned long>(at));
  std::ifstream in{"/proc/self/smaps"};
  std::string line;
  bool ours = false;
  while (std::getline(in, line)) {
    if (line.rfind(start, 0) == 0)
      ours = true;
    else if (ours && line.rfind("VmFlags:", 0) == 0)
      return line;
  }
  return {};
}

bool has_flag(const std::string& flags, const char* flag) {
  std::istringstream words{flags};
  std::string w;
  while (words >> w)
    if (w == flag)
      return true;
  return false;
}

bool kernel_has_thp() {
  struct stat st;
  return stat("/sys/kernel/mm/transparent_hugepage", &st) == 0;
}

} // namespace

TEST_CASE("a mapped block is aligned, zeroed and counted until unmapped") {
  auto before = mapped_bytes();
  auto bytes = 3 * huge_page + 4096;
  auto* p = static_cast<unsigned char*>(map_pages(bytes));
  CHECK(reinterpret_cast<std::uintptr_t>(p) % huge_page == 0);
  CHECK(mapped_bytes() == before + 4 * huge_page);
  CHECK(p[0] == 0);
  CHECK(p[bytes - 1] == 0);
  p[bytes - 1] = 7;
  unmap_pages(p, bytes);
  CHECK(mapped_bytes() == before);
}

TEST_CASE("only the first part of a block is advised as huge pages") {
  if (!kernel_has_thp()) {
    WARN("no transparent huge pages in this kernel: nothing to advise");
    return;
  }
  SECTION("a home part and a pool") {
    // 2.5 huge pages of home groups: the first two whole ones are huge,
    // the rest (the home part's tail and the pool) small.
    auto bytes = 4 * huge_page + 8192;
    auto home = 2 * huge_page + huge_page / 2;
    auto* p = static_cast<char*>(map_pages(bytes, home));
    auto head = vm_flags_at(p);
    auto tail = vm_flags_at(p + 2 * huge_page);
    CHECK(has_flag(head, "hg"));
    CHECK_FALSE(has_flag(head, "nh"));
    CHECK(has_flag(tail, "nh"));
    CHECK_FALSE(has_flag(tail, "hg"));
    unmap_pages(p, bytes);
  }
  SECTION("all of it home by default") {
    auto bytes = 3 * huge_page;
    auto* p = static_cast<char*>(map_pages(bytes));
    auto flags = vm_flags_at(p);
    CHECK(has_flag(flags, "hg"));
    CHECK_FALSE(has_flag(flags, "nh"));
    unmap_pages(p, bytes);
  }
  SECTION("a home part below one huge page") {
    auto bytes = 2 * huge_page;
    auto* p = static_cast<char*>(map_pages(bytes, huge_page / 2));
    auto flags = vm_flags_at(p);
    CHECK(has_flag(flags, "nh"));
    CHECK_FALSE(has_flag(flags, "hg"));
    unmap_pages(p, bytes);
  }
}
