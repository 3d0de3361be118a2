// Dump and load (ETS's tab2file / file2tab): a table's entries to a file and
// back, e.g. to warm a cache after a restart.
//
// `tab2file(tab, path)` writes every entry of a `table` or `owned_table` to
// `path`; `file2tab(owned, path)` verifies a dump completely and then inserts
// all of its entries into the owner's table in one atomic batch.
// `entries2file` and `file2entries` do the same from and to a vector of
// entries (a point-in-time copy, say, which a walk of a live table is not);
// `file2batches` hands a file's entries over a batch at a time as they
// decode.
// Keys and values are written with CAF's binary serializer, so K and V must
// be inspectable (`inspect` overload, or types CAF knows).
//
// Guarantees:
// * Crash-safe writes: the dump goes to a temp file next to `path`, is
//   fsynced and renamed over `path`. A crash or an error before the rename
//   leaves the previous file at `path` as it was (a crash may leave a stray
//   `path.tmp.*`); an error fsyncing the directory after the rename is
//   reported, with the new file in place but its rename maybe not durable.
// * All or nothing loads: a truncated, corrupt or foreign file (other format
//   version, table kind, key or value type) is rejected with errc::bad_file
//   and a message saying what is wrong, before the table is touched. XXH3
//   checksums cover the header and the body.
//
// Both calls block the calling thread on file I/O; called from an owner
// actor they hold up its mailbox for as long.
//
// NOTE: a dump of a live table is not a snapshot (walks never are, see
// table.hpp): an entry present for the whole dump is written exactly once,
// one written concurrently may or may not be. The file is consistent either
// way (count and checksum cover what was written). While the dump runs,
// memory of entries replaced or erased meanwhile is reclaimed only after it.
//
// NOTE: the key/value type check compares the types' mangled names
// (typeid(T).name(), stable on the Itanium C++ ABI, i.e. across g++ and
// clang++), not their layout: a type whose `inspect` changed between dump
// and load fails to decode (errc::bad_file) at best. Types in anonymous
// namespaces may get different names in different programs. Entries are
// encoded without an actor system: actor handles and other process-local
// values do not belong in a dump.
//
// Example:
//   // in an owner, e.g. on a "save" message or before shutting down:
//   auto n = cachet::tab2file(tab, "/var/lib/app/scores.dump");  // count
//   // in a fresh owner's init, after make_table:
//   auto m = cachet::file2tab(tab, "/var/lib/app/scores.dump");
//   if (!m)   // e.g. "cachet: bad_file (\"...: checksum mismatch ...\")"
//     caf::aout(self) << self->system().render(m.error()) << std::endl;
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/detail/type_traits.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
// Before errc.hpp: make_error(errc, context...) needs make_message declared
// where CAF_ERROR_CODE_ENUM expands.
#include <caf/make_message.hpp>

#include "cachet/detail/inspect_std.hpp"
#include "cachet/errc.hpp"
#include "cachet/kind.hpp"
#include "cachet/table.hpp"

namespace cachet {

namespace detail {

/// What a dump file records about its table's type.
struct dump_types {
  /// 0 for set, 1 for ordered_set, 2 for bag, 3 for duplicate_bag.
  std::uint32_t kind;
  /// typeid(K).name(), typeid(V).name(): mangled, stable on the Itanium ABI.
  const char* key_name;
  const char* value_name;
};

template <class K, class V, class Kind>
dump_types dump_types_of() {
  std::uint32_t kind = 0;
  if constexpr (is_ordered_v<Kind>)
    kind = 1;
  else if constexpr (std::is_same_v<Kind, bag<typename Kind::hasher,
                                              typename Kind::key_equal>>)
    kind = 2;
  else if constexpr (is_bag_v<Kind>)
    kind = 3;
  return {kind, typeid(K).name(), typeid(V).name()};
}

template <class T>
constexpr bool dumpable_v = caf::detail::is_serializable<T>::value;

/// Writes one dump file: `open` creates a temp file next to the target,
/// `write` appends body bytes, `commit` writes the header, fsyncs and renames
/// the temp file over the target. Destroying an uncommitted writer removes
/// its temp file.
class dump_writer {
public:
  dump_writer();
  dump_writer(const dump_writer&) = delete;
  dump_writer& operator=(const dump_writer&) = delete;
  ~dump_writer();

  caf::error open(const std::string& path, const dump_types& types);

  caf::error write(const char* data, std::size_t size);

  caf::error commit(std::uint64_t count);

  /// Body bytes a caller should gather before calling `write`.
  static constexpr std::size_t chunk_size = 1u << 20;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Reads one dump file. `open` verifies the header against `types` and the
/// body's checksum, reading the body once a chunk at a time; the entries
/// are then decoded from a window that `more` slides over the body (and
/// doubles while one entry fills it), reading it again, so that no more
/// than a chunk or an entry of the file is held at once. `finish`, once the
/// body is consumed, tells whether the second read saw the bytes the
/// first checked (a file changed in place meanwhile is bad_file).
class dump_reader {
public:
  dump_reader();
  dump_reader(const dump_reader&) = delete;
  dump_reader& operator=(const dump_reader&) = delete;
  ~dump_reader();

  caf::error open(const std::string& path, const dump_types& types);

  /// The header's count of entries, at most max(1, the body's bytes).
  std::uint64_t count() const noexcept;

  /// The window: body bytes read and not yet consumed.
  const char* data() const noexcept;
  std::size_t size() const noexcept;

  /// Body bytes not yet consumed, in the window or still in the file.
  std::uint64_t left() const noexcept;

  void consume(std::size_t n) noexcept;

  /// Reads more of the body into the window; false at the body's end.
  caf::expected<bool> more();

  caf::error finish();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// errc::bad_file for an entry of a verified body that did not decode.
caf::error bad_dump_entry(const std::string& path, std::uint64_t index,
                          std::uint64_t count, std::size_t remaining,
                          const caf::error& reason);

/// errc::bad_file for bytes left after the header's count of entries.
caf::error dump_count_mismatch(const std::string& path, std::uint64_t count,
                               std::size_t remaining);

/// Writes a key or value as read from a table: a std::string_view in the
/// format CAF gives std::string (what load_dump reads back), else as itself.
template <class T>
caf::error dump_field(caf::binary_serializer& sink, const T& x) {
  if constexpr (std::is_same_v<T, std::string_view>) {
    auto n = x.size();
    if (auto err = sink.begin_sequence(n))
      return err;
    // apply_raw serves both directions, hence the non-const pointer; a
    // serializer only reads it.
    if (n > 0)
      if (auto err = sink.apply_raw(n, const_cast<char*>(x.data())))
        return err;
    return sink.end_sequence();
  } else {
    return sink(x);
  }
}

/// The body of a dump of a K -> V table of kind Kind: `walk(visit)` calls
/// `visit(key, value)` (views or the types themselves) for every entry and
/// returns an error or none; written crash-safely to `path`.
template <class K, class V, class Kind, class Walk>
caf::expected<std::uint64_t> write_entries(const std::string& path,
                                           Walk&& walk) {
  dump_writer out;
  if (auto err = out.open(path, dump_types_of<K, V, Kind>()))
    return err;
  std::vector<char> buf;
  buf.reserve(dump_writer::chunk_size + 4096);
  caf::binary_serializer sink{static_cast<caf::execution_unit*>(nullptr), buf};
  std::uint64_t count = 0;
  caf::error failure;
  // A walk cannot be stopped: after a failure it only skips the rest.
  auto walked = walk([&](const auto& k, const auto& v) {
    if (failure)
      return;
    auto err = caf::error::eval([&] { return dump_field(sink, k); },
                                [&] { return dump_field(sink, v); });
    if (err) {
      failure = std::move(err);
      return;
    }
    ++count;
    if (buf.size() >= dump_writer::chunk_size) {
      failure = out.write(buf.data(), buf.size());
      buf.clear();
      sink.seek(0);
    }
  });
  if (walked)
    return walked;
  if (failure)
    return failure;
  if (!buf.empty())
    if (auto err = out.write(buf.data(), buf.size()))
      return err;
  if (auto err = out.commit(count))
    return err;
  return count;
}

} // namespace detail

/// Writes every entry of `tab` (a `table` or `owned_table`) to `path`,
/// replacing the file crash-safely (temp file, fsync, rename, fsync of the
/// directory), and returns the number of entries written.
///
/// Needs read rights: an owned_table in every mode, a `table` in protected
/// and public mode (private: errc::access_denied, and no file is touched).
/// Safe to call from any thread, concurrently with any operation on the
/// table, including other dumps (to the same path too: each writes its own
/// temp file and the last rename wins). Errors: access_denied, table_gone,
/// io_error (create, write, fsync or rename failed; the context names the
/// file and the reason; the previous file at `path` is untouched, except
/// after "cannot fsync directory": see the header comment), or an error of
/// K's or V's `inspect`.
template <class Table>
caf::expected<std::uint64_t> tab2file(const Table& tab,
                                      const std::string& path) {
  using key_type = typename Table::key_type;
  using value_type = typename Table::mapped_type;
  using kind_type = typename Table::kind_type;
  static_assert(detail::dumpable_v<key_type>,
                "tab2file: the key type must be serializable by CAF "
                "(provide an inspect overload)");
  static_assert(detail::dumpable_v<value_type>,
                "tab2file: the value type must be serializable by CAF "
                "(provide an inspect overload)");
  // Check the rights before creating any file.
  if (auto n = tab.size(); !n)
    return std::move(n.error());
  return detail::write_entries<key_type, value_type, kind_type>(
    path, [&](auto&& visit) -> caf::error {
      auto walked = tab.for_each(
        [&](view_t<key_type> k, view_t<value_type> v) { visit(k, v); });
      return walked ? caf::error{} : std::move(walked.error());
    });
}

/// Writes `entries` to `path` as a dump of a K -> V table of kind Kind
/// (e.g. a point-in-time copy the caller took), crash-safely as tab2file
/// does; file2tab loads it into such a table, file2entries back into a
/// vector. Errors: io_error, or an error of K's or V's `inspect`.
template <class Kind = set<>, class K, class V>
caf::expected<std::uint64_t>
entries2file(const std::vector<std::pair<K, V>>& entries,
             const std::string& path) {
  static_assert(detail::dumpable_v<K> && detail::dumpable_v<V>,
                "entries2file: keys and values must be serializable by CAF "
                "(provide an inspect overload)");
  return detail::write_entries<K, V, Kind>(
    path, [&](auto&& visit) -> caf::error {
      for (auto& [k, v] : entries)
        visit(k, v);
      return {};
    });
}

/// Reads the dump of a K -> V table of kind Kind at `path` and hands its
/// entries, in file order, to `f(std::vector<std::pair<K, V>>& batch,
/// std::uint64_t bytes_left)` as they decode, up to `batch_size` at a time
/// (`f` may move them out); `bytes_left` is what the file holds after the
/// batch. Returns the number of entries. For loads that need not hold every
/// entry at once, or that report progress: a server that starts from its
/// dump (cachet-redis) inserts each batch as it comes.
///
/// The header and both checksums are verified before the first batch, so a
/// truncated, corrupt or foreign file hands none. An entry that does not
/// decode although the checksums held (a writer's bug, not a disk's) ends
/// the read with bad_file after the batches before it; file2entries, which
/// collects the batches, then returns nothing. A non-empty error from `f`
/// ends the read and is returned. Errors: io_error, bad_file (as
/// file2tab's), or `f`'s.
template <class K, class V, class Kind = set<>, class F>
caf::expected<std::uint64_t>
file2batches(const std::string& path, std::size_t batch_size, F&& f) {
  static_assert(detail::dumpable_v<K> && detail::dumpable_v<V>,
                "file2batches: keys and values must be serializable by CAF "
                "(provide an inspect overload)");
  static_assert(std::is_default_constructible_v<K>
                  && std::is_default_constructible_v<V>,
                "file2batches: keys and values are decoded into default-"
                "constructed objects");
  static_assert(
    std::is_invocable_r_v<caf::error, F&, std::vector<std::pair<K, V>>&,
                          std::uint64_t>,
    "file2batches: f(std::vector<std::pair<K, V>>&, std::uint64_t) must "
    "return a caf::error");
  batch_size = std::max<std::size_t>(batch_size, 1);
  detail::dump_reader in;
  if (auto err = in.open(path, detail::dump_types_of<K, V, Kind>()))
    return err;
  auto count = in.count();
  std::vector<std::pair<K, V>> batch;
  // The count is checksummed, but still bound the reservation by the bytes
  // in the file.
  batch.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(
    {count, batch_size, in.left() / sizeof(std::pair<K, V>) + 1})));
  for (std::uint64_t i = 0; i < count; ++i) {
    for (;;) {
      K k{};
      V v{};
      caf::binary_deserializer source{
        static_cast<caf::execution_unit*>(nullptr), in.data(), in.size()};
      auto err = source(k, v);
      if (!err) {
        in.consume(in.size() - source.remaining());
        batch.emplace_back(std::move(k), std::move(v));
        break;
      }
      // The entry may go on past the window: read on, then decode it again.
      auto grown = in.more();
      if (!grown)
        return std::move(grown.error());
      if (!*grown)
        return detail::bad_dump_entry(path, i, count, source.remaining(),
                                      err);
    }
    if (batch.size() == batch_size || i + 1 == count) {
      if (auto err = f(batch, in.left()))
        return err;
      batch.clear();
    }
  }
  if (in.left() != 0)
    return detail::dump_count_mismatch(path, count,
                                       static_cast<std::size_t>(in.left()));
  if (auto err = in.finish())
    return err;
  return count;
}

/// Reads the dump of a K -> V table of kind Kind at `path` and returns its
/// entries, verified as file2tab verifies them, without touching any table.
/// Errors: io_error, bad_file (as file2tab's).
template <class K, class V, class Kind = set<>>
caf::expected<std::vector<std::pair<K, V>>>
file2entries(const std::string& path) {
  std::vector<std::pair<K, V>> entries;
  // One batch: every entry.
  auto take = [&](std::vector<std::pair<K, V>>& all,
                  std::uint64_t) -> caf::error {
    entries = std::move(all);
    return {};
  };
  auto n = file2batches<K, V, Kind>(path, SIZE_MAX, take);
  if (!n)
    return std::move(n.error());
  return entries;
}

/// Loads the dump at `path` into the owner's table and returns the number of
/// entries loaded. Every entry is inserted (inserted or replaced, as by
/// `insert`) in one atomic, isolated batch: readers see none or all of them.
/// Entries already in the table stay unless the file has their key.
///
/// Verifies everything before touching the table: magic, format version,
/// table kind, key and value types, header and body checksums, object count,
/// and that every entry decodes with no byte left over. Owner only (it takes
/// the owned_table, so every access mode). Safe concurrently with readers
/// and writers of the table. Errors: io_error (cannot open or read; the
/// context names the file and the reason), bad_file (the context says what
/// is wrong: "truncated header", "checksum mismatch", "wrong key/value
/// types", "wrong table kind", "count mismatch", "bad magic", "unsupported
/// version", ...), table_gone. On any error the table is unchanged.
template <class K, class V, class Kind>
caf::expected<std::uint64_t> file2tab(owned_table<K, V, Kind>& tab,
                                      const std::string& path) {
  auto entries = file2entries<K, V, Kind>(path);
  if (!entries)
    return std::move(entries.error());
  auto count = static_cast<std::uint64_t>(entries->size());
  if (auto res = tab.insert(std::move(*entries)); !res)
    return std::move(res.error());
  return count;
}

} // namespace cachet
