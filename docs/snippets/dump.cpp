// docs/dump.md: tab2file and file2tab, their errors, the generic owner's
// dump file (dump_atom, reload at start, the dump at a normal shutdown), and
// the byte format, read back from a real dump. main runs each and checks what
// the guide says.
#include <cachet/cachet.hpp>

#include <caf/actor_system.hpp>
#include <caf/after.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <typeinfo>
#include <vector>

#include "claims.hpp"

using namespace std::chrono_literals;

namespace fs = std::filesystem;

namespace {

snippets::claims check;

std::string dir; // a fresh directory under /tmp, removed at the end

bool contains(const std::string& text, const char* part) {
  return text.find(part) != std::string::npos;
}

void round_trip(caf::actor_system& sys) {
  auto path = dir + "/scores.dump";
  caf::scoped_actor self{sys}; // stands in for the owner actors
  {
    auto scores = cachet::make_table<std::string, int>(self.ptr(), {"scores"});
    scores->insert({{"ada", 3}, {"bob", 5}});
    // [tab2file]
    // Read rights suffice: the owner, or a handle unless the table is private.
    auto n = cachet::tab2file(*scores, path); // 2: entries written
    // [tab2file]
    check(n && *n == 2, "tab2file returns the entries written");
  } // the owner's capability ends here: so does the table
  // [file2tab]
  // In a new owner's init: the whole file is verified, then inserted in one
  // atomic batch.
  auto tab = cachet::make_table<std::string, int>(self.ptr(), {"scores"});
  auto m = cachet::file2tab(*tab, path);           // 2: entries loaded
  if (!m)                                          // bad_file, io_error
    std::printf("%s\n", sys.render(m.error()).c_str());
  // [file2tab]
  check(m && *m == 2 && *tab->lookup("bob") == 5, "file2tab loads everything");
  // Errors, each leaving the table unchanged.
  auto ord = cachet::make_table<std::string, int, cachet::ordered_set<>>(
    self.ptr(), {});
  auto kind = cachet::file2tab(*ord, path);
  auto kind_text = sys.render(kind.error());
  check(!kind && kind.error() == cachet::errc::bad_file
          && contains(kind_text, "wrong table kind: the file holds a table "
                                 "of kind set, the table is of kind "
                                 "ordered_set"),
        "a dump of another kind: bad_file");
  std::printf("  %s\n", kind_text.c_str());
  {
    auto ints = cachet::make_table<int, int>(self.ptr(), {});
    auto types = cachet::file2tab(*ints, path);
    auto text = sys.render(types.error());
    check(!types && contains(text, "wrong key/value types"),
          "a dump of other types: bad_file");
    std::printf("  %s\n", text.c_str());
  }
  // Truncated: only the header and part of the body remain.
  auto cut = dir + "/cut.dump";
  fs::copy_file(path, cut);
  fs::resize_file(cut, fs::file_size(cut) - 3);
  auto truncated = cachet::file2tab(*tab, cut);
  auto cut_text = sys.render(truncated.error());
  check(!truncated && contains(cut_text, "truncated body"), "truncated: bad_file");
  std::printf("  %s\n", cut_text.c_str());
  // One flipped byte in the body.
  auto flipped = dir + "/flipped.dump";
  fs::copy_file(path, flipped);
  {
    std::fstream f{flipped, std::ios::in | std::ios::out | std::ios::binary};
    f.seekp(-1, std::ios::end);
    f.put('\x7f');
  }
  auto corrupt = cachet::file2tab(*tab, flipped);
  auto corrupt_text = sys.render(corrupt.error());
  check(!corrupt && contains(corrupt_text, "checksum mismatch"),
        "a corrupt body: bad_file");
  std::printf("  %s\n", corrupt_text.c_str());
  auto missing = cachet::file2tab(*tab, dir + "/nope.dump");
  auto missing_text = sys.render(missing.error());
  check(!missing && missing.error() == cachet::errc::io_error
          && contains(missing_text, "cannot open"),
        "a file that cannot be opened: io_error");
  std::printf("  %s\n", missing_text.c_str());
  check(*tab->size() == 2, "after every failed load the table is unchanged");
  // A private table: a non-owner handle may not dump it, and no file is made.
  auto secret = cachet::make_table<std::string, int>(
    self.ptr(), {"secret", cachet::access_mode::private_});
  auto denied = cachet::tab2file(secret->share(), dir + "/secret.dump");
  check(!denied && denied.error() == cachet::errc::access_denied
          && !fs::exists(dir + "/secret.dump"),
        "private: only the owner dumps");
}

/// Little-endian unsigned integer of `n` bytes at `p`.
std::uint64_t le(const unsigned char* p, int n) {
  std::uint64_t x = 0;
  for (int i = 0; i < n; ++i)
    x |= std::uint64_t{p[i]} << (8 * i);
  return x;
}

void format(caf::actor_system& sys) {
  auto path = dir + "/format.dump";
  caf::scoped_actor self{sys};
  auto tab = cachet::make_table<std::string, int>(self.ptr(), {});
  tab->insert("k", 7);
  cachet::tab2file(*tab, path);
  std::ifstream in{path, std::ios::binary};
  std::vector<unsigned char> b{std::istreambuf_iterator<char>{in},
                               std::istreambuf_iterator<char>{}};
  std::string key_name = typeid(std::string).name();
  std::string value_name = typeid(int).name();
  auto k = key_name.size();
  auto v = value_name.size();
  bool ok = b.size() > 64 + k + v && std::memcmp(b.data(), "CACHETD\0", 8) == 0
            && le(&b[8], 4) == 1                       // version
            && le(&b[12], 4) == 0                      // kind: set
            && le(&b[24], 8) == 1                      // object count
            && le(&b[32], 8) == b.size() - (64 + k + v) // body length
            && le(&b[48], 4) == k && le(&b[52], 4) == v
            && std::string(b.begin() + 56, b.begin() + 56 + k) == key_name
            && std::string(b.begin() + 56 + k, b.begin() + 56 + k + v)
                 == value_name;
  check(ok, "the byte format is the guide's table");
}

void generic_owner(caf::actor_system& sys) {
  auto path = dir + "/carts.dump";
  cachet::blocking_caller caller{sys};
  {
    // [dump_file]
    cachet::table_options opts{"carts"};
    opts.dump_file = path;                     // loaded now if it exists
    auto owner = *cachet::spawn_owner<std::string, int>(sys, opts);
    caller.call(owner, 1s, cachet::insert_atom_v, std::string{"apples"}, 3);
    auto n = caller.call(owner, 1s, cachet::dump_atom_v, path); // 1 written
    caller.call(owner, 1s, cachet::insert_atom_v, std::string{"pears"}, 2);
    caf::anon_send_exit(owner, cachet::shutdown_reason); // dumps both, then exits
    // [dump_file]
    check(n && *n == 1, "dump_atom writes the table");
    snippets::eventually([&] {
      return !cachet::whereis<std::string, int>(sys, "carts");
    });
  }
  cachet::table_options opts{"carts"};
  opts.dump_file = path;
  auto owner = *cachet::spawn_owner<std::string, int>(sys, opts);
  auto size = caller.call(owner, 1s, cachet::size_atom_v);
  check(size && *size == 2, "a normal shutdown dumps; the next start loads it");
  caf::anon_send_exit(owner, caf::exit_reason::kill);
  // A dump path that is a directory: no owner starts.
  cachet::table_options bad{"broken"};
  bad.dump_file = dir;
  auto refused = cachet::spawn_owner<std::string, int>(sys, bad);
  check(!refused && refused.error() == cachet::errc::io_error,
        "an unreadable dump file: io_error, nothing spawned");
  // A dump that fails at shutdown is the owner's exit reason.
  cachet::table_options lost{"lost"};
  lost.dump_file = dir + "/no-such-dir/lost.dump";
  auto doomed = *cachet::spawn_owner<std::string, int>(sys, lost);
  caf::scoped_actor self{sys};
  self->monitor(doomed);
  caf::anon_send_exit(doomed, cachet::shutdown_reason);
  caf::error reason;
  self->receive([&](caf::down_msg& down) { reason = down.reason; },
                caf::after(5s) >> [] {});
  check(reason == cachet::errc::io_error,
        "a failed shutdown dump is the owner's exit reason");
}

} // namespace

int main() {
  char tmpl[] = "/tmp/cachet-docs-dump-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr)
    return 1;
  dir = tmpl;
  auto rc = snippets::run(check, round_trip, format, generic_owner);
  fs::remove_all(dir);
  return rc;
}
