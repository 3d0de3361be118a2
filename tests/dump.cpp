// Dump and load (tab2file / file2tab, entries2file / file2entries,
// file2batches): round trips for both kinds and several
// key/value types, 1M entries, and every way a file can be wrong (truncated
// at each section boundary and at random offsets, flipped bits, foreign
// types or kind, changed inspect, missing file, failing writes). Each
// rejected load must leave the target table exactly as it was.
#define CATCH_CONFIG_ENABLE_PAIR_STRINGMAKER
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include <caf/all.hpp>

#include <cachet/cachet.hpp>

#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;

using cachet::access_mode;
using cachet::errc;
using cachet::file2tab;
using cachet::ordered_set;
using cachet::tab2file;
using cachet_test::outcome;
using cachet_test::unwrap;
using fixture = cachet_test::owner_fixture;

using u64 = std::uint64_t;
using bytes = std::vector<char>;

/// A fresh directory per test case, removed with everything in it.
struct temp_dir {
  fs::path path;

  temp_dir() {
    auto base = fs::temp_directory_path() / "cachet-dump-XXXXXX";
    auto str = base.string();
    REQUIRE(::mkdtemp(str.data()) != nullptr);
    path = str;
  }

  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }

  std::string file(const std::string& name) const {
    return (path / name).string();
  }

  /// Names of the directory's entries, sorted.
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (auto& e : fs::directory_iterator(path))
      out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
};

bytes read_bytes(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  REQUIRE(in);
  return bytes{std::istreambuf_iterator<char>{in}, {}};
}

void write_bytes(const std::string& path, const bytes& data) {
  // A fresh file: truncating one makes ext4 flush it (auto_da_alloc), slowly.
  std::error_code ec;
  fs::remove(path, ec);
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  REQUIRE(out);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  REQUIRE(out);
}

/// The message cachet attached to an error ("path: what is wrong").
std::string context_of(const caf::error& err) {
  auto& ctx = err.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0))
    return ctx.get_as<std::string>(0);
  return {};
}

/// The context of a bad_file error; fails the test for any other outcome.
template <class T>
std::string bad_file_reason(const caf::expected<T>& res) {
  REQUIRE(outcome(res) == "bad_file");
  auto reason = context_of(res.error());
  CHECK(!reason.empty());
  return reason;
}

/// Options for an anonymous table in `mode`.
cachet::table_options in_mode(access_mode mode) {
  cachet::table_options opts;
  opts.mode = mode;
  return opts;
}

/// Requires a successful write.
void ok(const caf::expected<void>& res) {
  REQUIRE(outcome(res) == "ok");
}

using cachet_test::sorted_list;

// A value type with its own inspect.
struct point {
  std::string label;
  std::vector<std::int32_t> xs;
  double weight = 0;
  std::optional<std::string> note;

  friend bool operator==(const point& x, const point& y) {
    return x.label == y.label && x.xs == y.xs && x.weight == y.weight
           && x.note == y.note;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, point& x) {
  return f(x.label, x.xs, x.weight, x.note);
}

// A value whose encoding changes at run time: stands for a type whose
// inspect changed between the dump and the load (same name, other bytes).
struct evolving {
  static inline int fields = 1;
  u64 a = 0;
  u64 b = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, evolving& x) {
  if (evolving::fields == 1)
    return f(x.a);
  return f(x.a, x.b);
}

// Header layout (see src/dump.cpp) for tables of u64 -> u64, whose type
// names are one character each ("m") and whose entries are 16 bytes.
constexpr std::size_t u64_header = 56 + 1 + 1 + 8;
constexpr std::size_t u64_entry = 16;

/// A u64 -> u64 table holding exactly {42: 4242}: the "previous content" a
/// rejected load must leave alone.
template <class Tab>
void seed(Tab& tab) {
  ok(tab.insert(42, 4242));
}

template <class Tab>
void require_seed_only(const Tab& tab) {
  auto xs = unwrap(tab.to_list());
  REQUIRE(xs.size() == 1);
  CHECK(xs[0] == std::pair<u64, u64>{42, 4242});
}

/// Dumps a u64 -> u64 set of `n` entries {i: i * 7} to `path`.
bytes dump_u64(fixture& fx, const std::string& path, u64 n) {
  auto tab = fx.make<u64, u64>();
  for (u64 i = 0; i < n; ++i)
    ok(tab.insert(i, i * 7));
  REQUIRE(unwrap(tab2file(tab, path)) == n);
  return read_bytes(path);
}

} // namespace

// -- round trips ----------------------------------------------------------------

TEST_CASE_METHOD(fixture, "round trip: set of u64 -> u64", "[dump]") {
  temp_dir dir;
  auto path = dir.file("t.dump");
  auto src = make<u64, u64>();
  for (u64 i = 0; i < 1000; ++i)
    ok(src.insert(i * 0x9e3779b97f4a7c15, ~i));
  CHECK(unwrap(tab2file(src, path)) == 1000);
  CHECK(fs::file_size(path) == u64_header + 1000 * u64_entry);
  auto dst = make<u64, u64>();
  CHECK(unwrap(file2tab(dst, path)) == 1000);
  CHECK(sorted_list(dst) == sorted_list(src));
}

TEST_CASE_METHOD(fixture, "round trip: ordered_set of string -> string",
                 "[dump]") {
  temp_dir dir;
  auto path = dir.file("t.dump");
  using kind = ordered_set<>;
  auto src = make<std::string, std::string, kind>();
  ok(src.insert("", "empty key"));
  ok(src.insert("empty value", ""));
  ok(src.insert(std::string("nul\0inside", 10), std::string(3, '\0')));
  ok(src.insert("long", std::string(100000, 'x')));
  for (int i = 0; i < 500; ++i)
    ok(src.insert("key-" + std::to_string(i), std::to_string(i * i)));
  CHECK(unwrap(tab2file(src, path)) == 504);
  auto dst = make<std::string, std::string, kind>();
  CHECK(unwrap(file2tab(dst, path)) == 504);
  CHECK(unwrap(dst.to_list()) == unwrap(src.to_list())); // key order
  CHECK(unwrap(dst.lookup(std::string("nul\0inside", 10)))
        == std::string(3, '\0'));
}

TEST_CASE_METHOD(fixture, "round trip: struct values with inspect", "[dump]") {
  temp_dir dir;
  auto path = dir.file("t.dump");
  auto src = make<std::string, point>();
  ok(src.insert("a", point{"alpha", {1, -2, 3}, 0.5, std::nullopt}));
  ok(src.insert("b", point{"", {}, -1e300, std::string{"noted"}}));
  CHECK(unwrap(tab2file(src, path)) == 2);
  auto dst = make<std::string, point>();
  CHECK(unwrap(file2tab(dst, path)) == 2);
  CHECK(unwrap(dst.lookup("a")) == src.lookup("a").value());
  CHECK(unwrap(dst.lookup("b")) == src.lookup("b").value());
  CHECK(unwrap(dst.size()) == 2);
  // And the ordered kind with a struct value.
  auto osrc = make<u64, point, ordered_set<>>();
  ok(osrc.insert(3, point{"three", {3}, 3.0, std::nullopt}));
  CHECK(unwrap(tab2file(osrc, path)) == 1);
  auto odst = make<u64, point, ordered_set<>>();
  CHECK(unwrap(file2tab(odst, path)) == 1);
  CHECK(unwrap(odst.to_list()) == unwrap(osrc.to_list()));
}

TEST_CASE_METHOD(fixture, "entries2file and file2entries: a vector's dump, "
                          "the same bytes as the table's",
                 "[dump]") {
  temp_dir dir;
  std::vector<std::pair<std::string, point>> entries{
    {"a", point{"alpha", {1, -2, 3}, 0.5, std::nullopt}},
    {"b", point{"", {}, -1e300, std::string{"noted"}}},
  };
  auto path = dir.file("v.dump");
  CHECK(unwrap(cachet::entries2file(entries, path)) == 2);
  CHECK(unwrap(cachet::file2entries<std::string, point>(path)) == entries);
  // file2tab reads it; tab2file of that table writes the same body.
  auto tab = make<std::string, point>();
  CHECK(unwrap(file2tab(tab, path)) == 2);
  CHECK(unwrap(tab.lookup("a")) == entries[0].second);
  auto again = dir.file("t.dump");
  CHECK(unwrap(tab2file(tab, again)) == 2);
  auto back = unwrap(cachet::file2entries<std::string, point>(again));
  std::sort(back.begin(), back.end(),
            [](auto& x, auto& y) { return x.first < y.first; });
  CHECK(back == entries);
  // The header names the kind and the types: a reader of others refuses.
  CHECK(bad_file_reason(cachet::file2entries<std::string, point,
                                             ordered_set<>>(path))
          .find("wrong table kind")
        != std::string::npos);
  CHECK(bad_file_reason(cachet::file2entries<std::string, u64>(path))
          .find("wrong key/value types")
        != std::string::npos);
  CHECK(unwrap(cachet::entries2file(
          std::vector<std::pair<u64, u64>>{}, path)) == 0);
  CHECK(unwrap(cachet::file2entries<u64, u64>(path)).empty());
}

TEST_CASE_METHOD(fixture, "file2batches: the entries in file order, a batch "
                          "at a time, with the bytes left after each",
                 "[dump]") {
  temp_dir dir;
  auto path = dir.file("b.dump");
  std::vector<std::pair<u64, u64>> entries;
  for (u64 i = 0; i < 10; ++i)
    entries.emplace_back(i, i * i);
  REQUIRE(unwrap(cachet::entries2file(entries, path)) == 10);
  std::vector<std::pair<u64, u64>> got;
  std::vector<std::size_t> sizes;
  std::vector<u64> left;
  auto collect = [&](std::vector<std::pair<u64, u64>>& batch,
                     u64 bytes_left) -> caf::error {
    sizes.push_back(batch.size());
    left.push_back(bytes_left);
    std::move(batch.begin(), batch.end(), std::back_inserter(got));
    return {};
  };
  SECTION("every entry, in batches of at most batch_size") {
    CHECK(unwrap(cachet::file2batches<u64, u64>(path, 3, collect)) == 10);
    CHECK(got == entries);
    CHECK(sizes == std::vector<std::size_t>{3, 3, 3, 1});
    // 16 bytes an entry, the body last in the file.
    CHECK(left == std::vector<u64>{7 * u64_entry, 4 * u64_entry, u64_entry, 0});
  }
  SECTION("a batch size of 0 is 1") {
    CHECK(unwrap(cachet::file2batches<u64, u64>(path, 0, collect)) == 10);
    CHECK(sizes == std::vector<std::size_t>(10, 1));
  }
  SECTION("an error from f ends the read and is returned") {
    auto stopping = [&](std::vector<std::pair<u64, u64>>& batch,
                        u64 bytes_left) -> caf::error {
      collect(batch, bytes_left);
      if (sizes.size() == 2)
        return caf::make_error(errc::io_error, "enough");
      return {};
    };
    auto res = cachet::file2batches<u64, u64>(path, 4, stopping);
    CHECK(outcome(res) == "io_error");
    CHECK(sizes == std::vector<std::size_t>{4, 4});
  }
  SECTION("a bad checksum hands no batch") {
    auto body = read_bytes(path);
    body[u64_header + 3] ^= 1;
    write_bytes(path, body);
    CHECK(bad_file_reason(cachet::file2batches<u64, u64>(path, 1, collect))
            .find("checksum mismatch: the body")
          != std::string::npos);
    CHECK(sizes.empty());
  }
  SECTION("an entry larger than the read window") {
    std::vector<std::pair<std::string, std::string>> big{
      {"a", ""}, {"b", std::string(3 << 20, 'x')}, {"c", "z"}};
    REQUIRE(unwrap(cachet::entries2file(big, path)) == 3);
    CHECK(unwrap(cachet::file2entries<std::string, std::string>(path)) == big);
  }
  SECTION("a file changed in place while it is read is bad_file") {
    // 100K entries: 1.6 MB, more than one read window (1 MiB). The last
    // entry's value changes once the first batch is handed: it decodes,
    // but the second read's checksum differs from the first's.
    entries.clear();
    for (u64 i = 0; i < 100000; ++i)
      entries.emplace_back(i, i);
    REQUIRE(unwrap(cachet::entries2file(entries, path)) == 100000);
    auto size = fs::file_size(path);
    std::size_t handed = 0;
    auto res = cachet::file2batches<u64, u64>(
      path, 1000, [&](std::vector<std::pair<u64, u64>>& batch, u64) {
        if (handed == 0) {
          std::fstream f(path, std::ios::in | std::ios::out
                                 | std::ios::binary);
          f.seekp(static_cast<std::streamoff>(size - 1));
          f.put('\x7f');
        }
        handed += batch.size();
        return caf::error{};
      });
    CHECK(bad_file_reason(res).find("the body changed while it was read")
          != std::string::npos);
    CHECK(handed == 100000);
  }
  SECTION("an entry that does not decode ends the read after the batches "
          "before it") {
    // Dumped at 16 bytes an entry, read at 24: 6 entries and a key and a
    // half of the 7th fit in the body.
    evolving::fields = 1;
    auto src = make<u64, evolving>();
    for (u64 i = 0; i < 10; ++i)
      ok(src.insert(i, evolving{i, i}));
    REQUIRE(unwrap(tab2file(src, path)) == 10);
    evolving::fields = 2;
    std::size_t handed = 0;
    auto res = cachet::file2batches<u64, evolving>(
      path, 4, [&](std::vector<std::pair<u64, evolving>>& batch, u64) {
        handed += batch.size();
        return caf::error{};
      });
    evolving::fields = 1;
    CHECK(bad_file_reason(res).find("count mismatch: the body ends after 6 "
                                    "of 10")
          != std::string::npos);
    CHECK(handed == 4);
  }
}

TEST_CASE_METHOD(fixture, "round trip: an empty table", "[dump]") {
  temp_dir dir;
  auto path = dir.file("t.dump");
  auto src = make<u64, u64>();
  CHECK(unwrap(tab2file(src, path)) == 0);
  CHECK(fs::file_size(path) == u64_header);
  auto dst = make<u64, u64>();
  seed(dst);
  CHECK(unwrap(file2tab(dst, path)) == 0);
  require_seed_only(dst);
}

TEST_CASE_METHOD(fixture, "file2tab adds to the table: file keys replace",
                 "[dump]") {
  temp_dir dir;
  auto path = dir.file("t.dump");
  auto src = make<u64, u64>();
  ok(src.insert(1, 10));
  ok(src.insert(2, 20));
  REQUIRE(unwrap(tab2file(src, path)) == 2);
  auto dst = make<u64, u64>();
  ok(dst.insert(2, 99));
  ok(dst.insert(3, 30));
  CHECK(unwrap(file2tab(dst, path)) == 2);
  CHECK(sorted_list(dst)
        == std::vector<std::pair<u64, u64>>{{1, 10}, {2, 20}, {3, 30}});
}

TEST_CASE_METHOD(fixture, "a second dump replaces the first", "[dump]") {
  temp_dir dir;
  auto path = dir.file("t.dump");
  auto src = make<u64, u64>();
  ok(src.insert(1, 1));
  REQUIRE(unwrap(tab2file(src, path)) == 1);
  ok(src.insert(2, 2));
  REQUIRE(unwrap(tab2file(src, path)) == 2);
  auto dst = make<u64, u64>();
  CHECK(unwrap(file2tab(dst, path)) == 2);
  CHECK(sorted_list(dst) == sorted_list(src));
  CHECK(dir.entries() == std::vector<std::string>{"t.dump"}); // no temp left
}

/// Dumps and loads 1M entries of u64 -> 100-byte string.
template <class Kind>
void million_round_trip(fixture& fx) {
  temp_dir dir;
  auto path = dir.file("big.dump");
  constexpr u64 n = 1'000'000;
  auto value_of = [](u64 i) {
    auto s = std::to_string(i);
    return s + std::string(100 - s.size(), static_cast<char>('a' + i % 26));
  };
  auto src = fx.make<u64, std::string, Kind>();
  {
    std::vector<std::pair<u64, std::string>> batch;
    batch.reserve(n);
    for (u64 i = 0; i < n; ++i)
      batch.emplace_back(i, value_of(i));
    ok(src.insert(std::move(batch)));
  }
  auto t0 = std::chrono::steady_clock::now();
  CHECK(unwrap(tab2file(src, path)) == n);
  auto t1 = std::chrono::steady_clock::now();
  // Header + per entry: 8 bytes key, 1 byte length, 100 bytes value.
  auto size = fs::file_size(path);
  CHECK(size == 56 + std::string{typeid(u64).name()}.size()
                  + std::string{typeid(std::string).name()}.size() + 8
                  + n * 109);
  auto dst = fx.make<u64, std::string, Kind>();
  CHECK(unwrap(file2tab(dst, path)) == n);
  auto t2 = std::chrono::steady_clock::now();
  // Keys are unique, so n entries with keys below n, each with its value,
  // are exactly the source's.
  u64 seen = 0;
  u64 wrong = 0;
  ok(dst.for_each([&](u64 k, std::string_view v) {
    ++seen;
    if (k >= n || v != value_of(k))
      ++wrong;
  }));
  CHECK(seen == n);
  CHECK(wrong == 0);
  using ms = std::chrono::milliseconds;
  WARN("1M entries, " << size << " bytes: tab2file "
                      << std::chrono::duration_cast<ms>(t1 - t0).count()
                      << " ms, file2tab "
                      << std::chrono::duration_cast<ms>(t2 - t1).count()
                      << " ms");
}

TEST_CASE_METHOD(fixture, "1M-entry round trip: set", "[dump]") {
  million_round_trip<cachet::set<>>(*this);
}

TEST_CASE_METHOD(fixture, "1M-entry round trip: ordered_set", "[dump]") {
  million_round_trip<ordered_set<>>(*this);
}

// -- rights and owners ------------------------------------------------------------

TEST_CASE_METHOD(fixture, "tab2file needs read rights", "[dump]") {
  temp_dir dir;
  auto path = dir.file("t.dump");
  SECTION("private: a table handle is denied and no file is written") {
    auto tab = make<u64, u64>(in_mode(access_mode::private_));
    ok(tab.insert(1, 1));
    CHECK(outcome(tab2file(tab.share(), path)) == "access_denied");
    CHECK(dir.entries().empty());
    CHECK(unwrap(tab2file(tab, path)) == 1); // the owner may
  }
  SECTION("protected and public: a table handle may dump") {
    for (auto mode : {access_mode::protected_, access_mode::public_}) {
      auto tab = make<u64, u64>(in_mode(mode));
      ok(tab.insert(1, 1));
      CHECK(unwrap(tab2file(tab.share(), path)) == 1);
    }
  }
  SECTION("a dead table: table_gone, and no file is written") {
    auto handle = [&] {
      auto tab = make<u64, u64>();
      return tab.share();
    }();
    CHECK(outcome(tab2file(handle, path)) == "table_gone");
    CHECK(dir.entries().empty());
  }
}

TEST_CASE_METHOD(fixture, "a dump while writers run loads consistently",
                 "[dump]") {
  temp_dir dir;
  auto path = dir.file("t.dump");
  auto tab = make<u64, u64>(in_mode(access_mode::public_));
  constexpr u64 stable = 20000;
  for (u64 i = 0; i < stable; ++i)
    ok(tab.insert(i, i));
  auto writer_handle = tab.share();
  std::atomic<bool> stop{false};
  std::thread writer{[&] {
    // Churn above the stable keys: inserts and erases during the walk.
    for (u64 i = 0; !stop.load(); ++i) {
      auto k = stable + i % 5000;
      if (i % 3 == 0)
        (void) writer_handle.erase(k);
      else
        (void) writer_handle.insert(k, k);
    }
  }};
  u64 written = 0;
  for (int round = 0; round < 5; ++round)
    written = unwrap(tab2file(tab, path));
  stop = true;
  writer.join();
  auto dst = make<u64, u64>();
  CHECK(unwrap(file2tab(dst, path)) == written);
  CHECK(unwrap(dst.size()) == written);
  for (u64 i = 0; i < stable; ++i)
    REQUIRE(unwrap(dst.lookup(i)) == std::optional<u64>{i});
}

// -- rejected files ------------------------------------------------------------

TEST_CASE_METHOD(fixture, "truncation at every section boundary is rejected",
                 "[dump]") {
  temp_dir dir;
  auto good = dump_u64(*this, dir.file("good.dump"), 8);
  REQUIRE(good.size() == u64_header + 8 * u64_entry);
  // Ends of magic (and inside it), version, kind, tag, count, body length,
  // checksum, name lengths, names, header checksum; then every entry
  // boundary, between key and value, and inside a key.
  std::vector<std::size_t> cuts{0,  1,  4,  7,  8,  10, 12, 14, 16,
                                20, 24, 28, 32, 36, 40, 44, 48, 50,
                                52, 54, 56, 57, 58, 62, 65, u64_header};
  for (std::size_t i = 0; i < 8; ++i) {
    cuts.push_back(u64_header + i * u64_entry + 3);
    cuts.push_back(u64_header + i * u64_entry + 8);
    if (i > 0)
      cuts.push_back(u64_header + i * u64_entry);
  }
  cuts.push_back(good.size() - 1);
  auto path = dir.file("cut.dump");
  auto dst = make<u64, u64>();
  seed(dst);
  for (auto cut : cuts) {
    INFO("truncated to " << cut << " of " << good.size() << " bytes");
    write_bytes(path, bytes(good.begin(), good.begin() + cut));
    auto reason = bad_file_reason(file2tab(dst, path));
    INFO(reason);
    if (cut < u64_header)
      CHECK(reason.find("truncated header") != std::string::npos);
    else
      CHECK(reason.find("truncated body") != std::string::npos);
    CHECK(reason.find(path) != std::string::npos);
    require_seed_only(dst);
  }
  // The untouched file still loads.
  CHECK(unwrap(file2tab(dst, dir.file("good.dump"))) == 8);
  CHECK(unwrap(dst.size()) == 9);
}

TEST_CASE_METHOD(fixture, "truncation at random offsets is rejected",
                 "[dump]") {
  temp_dir dir;
  auto src = make<std::string, std::string>();
  for (int i = 0; i < 300; ++i)
    ok(src.insert("k" + std::to_string(i), std::string(i % 40, 'v')));
  auto good_path = dir.file("good.dump");
  REQUIRE(unwrap(tab2file(src, good_path)) == 300);
  auto good = read_bytes(good_path);
  auto path = dir.file("cut.dump");
  auto dst = make<std::string, std::string>();
  ok(dst.insert("mine", "kept"));
  std::mt19937_64 rng{20240601};
  std::uniform_int_distribution<std::size_t> offset{0, good.size() - 1};
  for (int round = 0; round < 200; ++round) {
    auto cut = offset(rng);
    INFO("truncated to " << cut << " of " << good.size() << " bytes");
    write_bytes(path, bytes(good.begin(), good.begin() + cut));
    auto reason = bad_file_reason(file2tab(dst, path));
    INFO(reason);
    CHECK(reason.find("truncated") != std::string::npos);
    REQUIRE(unwrap(dst.to_list())
            == std::vector<std::pair<std::string, std::string>>{
              {"mine", "kept"}});
  }
}

TEST_CASE_METHOD(fixture, "a flipped bit in the header is rejected", "[dump]") {
  temp_dir dir;
  auto good = dump_u64(*this, dir.file("good.dump"), 4);
  auto path = dir.file("flip.dump");
  auto dst = make<u64, u64>();
  seed(dst);
  for (std::size_t pos = 0; pos < u64_header; ++pos) {
    for (int bit = 0; bit < 8; ++bit) {
      INFO("bit " << bit << " of byte " << pos);
      auto bad = good;
      bad[pos] = static_cast<char>(bad[pos] ^ (1 << bit));
      write_bytes(path, bad);
      auto reason = bad_file_reason(file2tab(dst, path));
      INFO(reason);
      if (pos < 8) {
        CHECK(reason.find("bad magic") != std::string::npos);
      } else if (pos < 12) {
        CHECK(reason.find("unsupported version") != std::string::npos);
      } else if (pos >= 48 && pos < 56) {
        // A name length: the header then seems longer or shorter.
        CHECK((reason.find("header checksum mismatch") != std::string::npos
               || reason.find("truncated header") != std::string::npos));
      } else {
        CHECK(reason.find("header checksum mismatch") != std::string::npos);
      }
      require_seed_only(dst);
    }
  }
}

TEST_CASE_METHOD(fixture, "a flipped bit in the body is rejected", "[dump]") {
  temp_dir dir;
  auto good = dump_u64(*this, dir.file("good.dump"), 16);
  auto path = dir.file("flip.dump");
  auto dst = make<u64, u64>();
  seed(dst);
  for (auto pos = u64_header; pos < good.size(); ++pos) {
    for (int bit = 0; bit < 8; ++bit) {
      INFO("bit " << bit << " of byte " << pos);
      auto bad = good;
      bad[pos] = static_cast<char>(bad[pos] ^ (1 << bit));
      write_bytes(path, bad);
      auto reason = bad_file_reason(file2tab(dst, path));
      INFO(reason);
      CHECK(reason.find("checksum mismatch: the body") != std::string::npos);
      require_seed_only(dst);
    }
  }
}

TEST_CASE_METHOD(fixture, "trailing bytes after the body are rejected",
                 "[dump]") {
  temp_dir dir;
  auto good = dump_u64(*this, dir.file("good.dump"), 4);
  auto path = dir.file("long.dump");
  auto bad = good;
  bad.push_back('\0');
  write_bytes(path, bad);
  auto dst = make<u64, u64>();
  seed(dst);
  auto reason = bad_file_reason(file2tab(dst, path));
  CHECK(reason.find("1 trailing bytes") != std::string::npos);
  require_seed_only(dst);
}

TEST_CASE_METHOD(fixture, "a file of other key or value types is rejected",
                 "[dump]") {
  temp_dir dir;
  auto path = dir.file("t.dump");
  dump_u64(*this, path, 3);
  SECTION("wrong key type") {
    auto dst = make<std::string, u64>();
    ok(dst.insert("mine", 1));
    auto reason = bad_file_reason(file2tab(dst, path));
    CHECK(reason.find("wrong key/value types") != std::string::npos);
    // Both sides, readable.
    CHECK(reason.find("unsigned long -> unsigned long") != std::string::npos);
    CHECK(reason.find("std::") != std::string::npos);
    CHECK(unwrap(dst.to_list())
          == std::vector<std::pair<std::string, u64>>{{"mine", 1}});
  }
  SECTION("wrong value type") {
    auto dst = make<u64, std::string>();
    auto reason = bad_file_reason(file2tab(dst, path));
    CHECK(reason.find("wrong key/value types") != std::string::npos);
    CHECK(unwrap(dst.size()) == 0);
  }
  SECTION("same size, other type") {
    auto dst = make<u64, std::int64_t>();
    auto reason = bad_file_reason(file2tab(dst, path));
    CHECK(reason.find("wrong key/value types") != std::string::npos);
    CHECK(reason.find("unsigned long -> long") != std::string::npos);
    CHECK(unwrap(dst.size()) == 0);
  }
}

TEST_CASE_METHOD(fixture, "a file of the other table kind is rejected",
                 "[dump]") {
  temp_dir dir;
  auto path = dir.file("t.dump");
  dump_u64(*this, path, 3);
  auto ordered = make<u64, u64, ordered_set<>>();
  seed(ordered);
  auto reason = bad_file_reason(file2tab(ordered, path));
  CHECK(reason.find("wrong table kind: the file holds a table of kind set, "
                    "the table is of kind ordered_set")
        != std::string::npos);
  require_seed_only(ordered);
  // And the other way round.
  REQUIRE(unwrap(tab2file(ordered, path)) == 1);
  auto hashed = make<u64, u64>();
  reason = bad_file_reason(file2tab(hashed, path));
  CHECK(reason.find("wrong table kind") != std::string::npos);
  CHECK(unwrap(hashed.size()) == 0);
}

TEST_CASE_METHOD(fixture, "a file that is no dump is rejected", "[dump]") {
  temp_dir dir;
  auto path = dir.file("t.dump");
  std::string text = "key,value\n1,2\n";
  write_bytes(path, bytes(text.begin(), text.end()));
  auto dst = make<u64, u64>();
  seed(dst);
  auto reason = bad_file_reason(file2tab(dst, path));
  CHECK(reason.find("bad magic") != std::string::npos);
  require_seed_only(dst);
  // A future format version.
  auto good = dump_u64(*this, path, 2);
  good[8] = 2;
  write_bytes(path, good);
  reason = bad_file_reason(file2tab(dst, path));
  CHECK(reason.find("unsupported version 2") != std::string::npos);
  require_seed_only(dst);
}

TEST_CASE_METHOD(fixture, "a type whose inspect changed is rejected",
                 "[dump]") {
  temp_dir dir;
  auto path = dir.file("t.dump");
  evolving::fields = 2;
  auto src = make<u64, evolving>();
  for (u64 i = 0; i < 10; ++i)
    ok(src.insert(i, evolving{i, i}));
  REQUIRE(unwrap(tab2file(src, path)) == 10);
  auto dst = make<u64, evolving>();
  ok(dst.insert(42, evolving{1, 1}));
  SECTION("fewer bytes per entry now: bytes are left over") {
    evolving::fields = 1;
    auto reason = bad_file_reason(file2tab(dst, path));
    CHECK(reason.find("count mismatch") != std::string::npos);
  }
  SECTION("more bytes per entry now: the body ends early") {
    // Dumped at 16 bytes per entry, read at 24: 6 entries and a key and a
    // half of the 7th fit in the body.
    evolving::fields = 1;
    REQUIRE(unwrap(tab2file(src, path)) == 10);
    evolving::fields = 2;
    auto reason = bad_file_reason(file2tab(dst, path));
    CHECK(reason.find("count mismatch: the body ends after 6 of 10")
          != std::string::npos);
  }
  evolving::fields = 2;
  CHECK(unwrap(dst.size()) == 1);
  CHECK(unwrap(dst.lookup(42))->a == 1);
}

TEST_CASE_METHOD(fixture, "a missing or unreadable file is an io_error",
                 "[dump]") {
  temp_dir dir;
  auto dst = make<u64, u64>();
  seed(dst);
  auto missing = dir.file("missing.dump");
  auto res = file2tab(dst, missing);
  REQUIRE(outcome(res) == "io_error");
  auto reason = context_of(res.error());
  CHECK(reason.find("cannot open " + missing) != std::string::npos);
  CHECK(reason.find("No such file or directory") != std::string::npos);
  res = file2tab(dst, dir.path.string()); // a directory
  REQUIRE(outcome(res) == "io_error");
  CHECK(context_of(res.error()).find("not a regular file")
        != std::string::npos);
  require_seed_only(dst);
}

// -- crash-safe writes -------------------------------------------------------------

TEST_CASE_METHOD(fixture, "a failed write leaves the previous dump intact",
                 "[dump]") {
  temp_dir dir;
  auto path = dir.file("t.dump");
  auto old = dump_u64(*this, path, 3);
  auto tab = make<u64, u64>();
  for (u64 i = 0; i < 10000; ++i) // 160 KB of body
    ok(tab.insert(i, i));
  SECTION("the file system refuses the data (file size limit, even as root)") {
    rlimit saved;
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
    auto limited = saved;
    limited.rlim_cur = 4096;
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &limited) == 0);
    auto res = tab2file(tab, path);
    ::setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, old_handler);
    REQUIRE(outcome(res) == "io_error");
    auto reason = context_of(res.error());
    INFO(reason);
    CHECK(reason.find("cannot write " + path + ".tmp.") != std::string::npos);
    CHECK(reason.find("File too large") != std::string::npos);
  }
  SECTION("the rename fails (the target is a directory)") {
    auto target = dir.file("sub");
    fs::create_directory(target);
    fs::copy_file(path, dir.file("sub/keep"));
    auto res = tab2file(tab, target);
    REQUIRE(outcome(res) == "io_error");
    CHECK(context_of(res.error()).find("cannot rename") != std::string::npos);
    CHECK(read_bytes(dir.file("sub/keep")) == old);
  }
  SECTION("the directory does not exist") {
    auto res = tab2file(tab, dir.file("nowhere/t.dump"));
    REQUIRE(outcome(res) == "io_error");
    CHECK(context_of(res.error()).find("cannot create") != std::string::npos);
  }
  if (::geteuid() != 0) {
    // (root writes anyway, so this runs only for other users)
    fs::permissions(dir.path, fs::perms::owner_read | fs::perms::owner_exec);
    auto res = tab2file(tab, path);
    fs::permissions(dir.path, fs::perms::owner_all);
    CHECK(outcome(res) == "io_error");
  }
  // Nothing but the old files: no temp file left, the old dump unchanged.
  auto names = dir.entries();
  names.erase(std::remove(names.begin(), names.end(), "sub"), names.end());
  CHECK(names == std::vector<std::string>{"t.dump"});
  CHECK(read_bytes(path) == old);
  auto dst = make<u64, u64>();
  CHECK(unwrap(file2tab(dst, path)) == 3);
}

TEST_CASE_METHOD(fixture, "leftover temp files do not matter", "[dump]") {
  temp_dir dir;
  auto path = dir.file("t.dump");
  // As a crash would leave them: a torn temp file of this and another pid.
  bytes torn(100, '\0');
  auto mine = path + ".tmp." + std::to_string(::getpid()) + ".0";
  auto other = path + ".tmp.1.0";
  write_bytes(mine, torn);
  write_bytes(other, torn);
  dump_u64(*this, path, 5);
  auto dst = make<u64, u64>();
  CHECK(unwrap(file2tab(dst, path)) == 5);
  CHECK(read_bytes(mine) == torn);
  CHECK(read_bytes(other) == torn);
  // A torn temp file itself never passes for a dump.
  CHECK(outcome(file2tab(dst, mine)) == "bad_file");
}
