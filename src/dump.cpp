// The file side of tab2file / file2tab: the dump format, crash-safe writing
// and verified reading. The templates in dump.hpp walk the table and encode
// the entries; everything here sees only bytes and type names.
//
// Format, little-endian, version 1:
//
//   offset  size  field
//        0     8  magic "CACHETD\0"
//        8     4  format version (1)
//       12     4  table kind (0 set, 1 ordered_set, 2 bag, 3 duplicate_bag)
//       16     8  type tag: XXH3-64 of key name, NUL, value name
//       24     8  object count
//       32     8  body length in bytes
//       40     8  body checksum: XXH3-64 of the body
//       48     4  key type name length k
//       52     4  value type name length v
//       56     k  key type name (typeid(K).name(), mangled)
//     56+k     v  value type name
//   56+k+v     8  header checksum: XXH3-64 of bytes [0, 56+k+v)
//   64+k+v     -  body: count entries, each K then V in CAF's binary format
//
// The names repeat what the tag says so that a type error can name the
// types; the header checksum makes them and every size trustworthy before
// anything is allocated from them. Sizes are also checked against the file's
// actual size, so a corrupt header never causes a large allocation.
//
// Writing: the header is first written as zeros (a crash leaves a file with
// bad magic), the body is streamed and hashed in chunks, then the real
// header is written at offset 0, the file fsynced, renamed over the target,
// and the directory fsynced so that the rename itself is durable.
#include "cachet/dump.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include <cxxabi.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

namespace cachet::detail {

namespace {

constexpr char magic[8] = {'C', 'A', 'C', 'H', 'E', 'T', 'D', '\0'};
constexpr std::uint32_t format_version = 1;
// Bytes before the type names.
constexpr std::size_t fixed_size = 56;

void put_u32(char* p, std::uint32_t x) {
  for (int i = 0; i < 4; ++i)
    p[i] = static_cast<char>((x >> (8 * i)) & 0xff);
}

void put_u64(char* p, std::uint64_t x) {
  for (int i = 0; i < 8; ++i)
    p[i] = static_cast<char>((x >> (8 * i)) & 0xff);
}

std::uint32_t get_u32(const char* p) {
  std::uint32_t x = 0;
  for (int i = 0; i < 4; ++i)
    x |= std::uint32_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return x;
}

std::uint64_t get_u64(const char* p) {
  std::uint64_t x = 0;
  for (int i = 0; i < 8; ++i)
    x |= std::uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return x;
}

std::uint64_t type_tag(const std::string& key_name,
                       const std::string& value_name) {
  std::string desc = key_name;
  desc += '\0';
  desc += value_name;
  return XXH3_64bits(desc.data(), desc.size());
}

/// The header for `types`, with count, body length and checksum filled in.
std::vector<char> encode_header(const dump_types& types, std::uint64_t count,
                                std::uint64_t body_size,
                                std::uint64_t body_sum) {
  std::string key_name = types.key_name;
  std::string value_name = types.value_name;
  std::vector<char> out(fixed_size + key_name.size() + value_name.size() + 8);
  auto* p = out.data();
  std::memcpy(p, magic, sizeof(magic));
  put_u32(p + 8, format_version);
  put_u32(p + 12, types.kind);
  put_u64(p + 16, type_tag(key_name, value_name));
  put_u64(p + 24, count);
  put_u64(p + 32, body_size);
  put_u64(p + 40, body_sum);
  put_u32(p + 48, static_cast<std::uint32_t>(key_name.size()));
  put_u32(p + 52, static_cast<std::uint32_t>(value_name.size()));
  std::memcpy(p + fixed_size, key_name.data(), key_name.size());
  std::memcpy(p + fixed_size + key_name.size(), value_name.data(),
              value_name.size());
  auto named = out.size() - 8;
  put_u64(p + named, XXH3_64bits(p, named));
  return out;
}

std::string demangle(const std::string& name) {
  int status = 0;
  char* res = abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status);
  if (res == nullptr)
    return name;
  std::string out = res;
  std::free(res);
  return out;
}

std::string kind_name(std::uint32_t kind) {
  switch (kind) {
    case 0: return "set";
    case 1: return "ordered_set";
    case 2: return "bag";
    case 3: return "duplicate_bag";
  }
  return "unknown kind " + std::to_string(kind);
}

caf::error io_failure(const std::string& what, const std::string& path,
                      int code) {
  return caf::make_error(errc::io_error,
                         what + " " + path + ": "
                           + std::system_category().message(code));
}

caf::error bad_file(const std::string& path, const std::string& what) {
  return caf::make_error(errc::bad_file, path + ": " + what);
}

/// Closes a descriptor on scope exit.
struct fd_guard {
  int fd;
  ~fd_guard() {
    if (fd >= 0)
      ::close(fd);
  }
};

/// Reads up to `n` bytes; fewer only at end of file. -1 on error (errno).
ssize_t read_fully(int fd, char* p, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    auto r = ::read(fd, p + got, n - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return -1;
    if (r == 0)
      break;
    got += static_cast<std::size_t>(r);
  }
  return static_cast<ssize_t>(got);
}

bool write_fully(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    auto r = ::write(fd, p, n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

std::string directory_of(const std::string& path) {
  auto pos = path.find_last_of('/');
  if (pos == std::string::npos)
    return ".";
  if (pos == 0)
    return "/";
  return path.substr(0, pos);
}

// Distinguishes temp files of concurrent dumps within one process (the pid
// distinguishes processes).
std::atomic<std::uint64_t> temp_counter{0};

} // namespace

// -- writing ------------------------------------------------------------------

struct dump_writer::impl {
  std::string path;
  std::string tmp;
  int fd = -1;
  bool committed = false;
  dump_types types{};
  std::uint64_t body_size = 0;
  XXH3_state_t* hash = nullptr;

  ~impl() {
    if (fd >= 0)
      ::close(fd);
    if (!tmp.empty() && !committed)
      ::unlink(tmp.c_str());
    if (hash != nullptr)
      XXH3_freeState(hash);
  }
};

dump_writer::dump_writer() : impl_(std::make_unique<impl>()) {
  // nop
}

dump_writer::~dump_writer() {
  // nop
}

caf::error dump_writer::open(const std::string& path, const dump_types& types) {
  auto& d = *impl_;
  d.path = path;
  d.types = types;
  d.hash = XXH3_createState();
  if (d.hash == nullptr || XXH3_64bits_reset(d.hash) != XXH_OK)
    return caf::make_error(errc::io_error, "cannot create a hash state");
  // Same directory as the target, so that rename is atomic. O_EXCL never
  // reuses a file: a stale name (a crashed process with our pid) is skipped.
  auto prefix = path + ".tmp." + std::to_string(::getpid()) + ".";
  for (int attempt = 0; d.fd < 0; ++attempt) {
    auto name = prefix + std::to_string(temp_counter.fetch_add(1));
    d.fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (d.fd >= 0)
      d.tmp = std::move(name);
    else if (errno != EEXIST || attempt == 100)
      return io_failure("cannot create", name, errno);
  }
  // Placeholder header: its size is known now, its content at commit.
  std::vector<char> zeros(encode_header(types, 0, 0, 0).size(), 0);
  if (!write_fully(d.fd, zeros.data(), zeros.size()))
    return io_failure("cannot write", d.tmp, errno);
  return caf::none;
}

caf::error dump_writer::write(const char* data, std::size_t size) {
  auto& d = *impl_;
  if (d.fd < 0)
    return caf::make_error(errc::io_error, "dump writer is not open");
  XXH3_64bits_update(d.hash, data, size);
  if (!write_fully(d.fd, data, size))
    return io_failure("cannot write", d.tmp, errno);
  d.body_size += size;
  return caf::none;
}

caf::error dump_writer::commit(std::uint64_t count) {
  auto& d = *impl_;
  if (d.fd < 0)
    return caf::make_error(errc::io_error, "dump writer is not open");
  auto header = encode_header(d.types, count, d.body_size,
                              XXH3_64bits_digest(d.hash));
  for (std::size_t done = 0; done < header.size();) {
    auto r = ::pwrite(d.fd, header.data() + done, header.size() - done,
                      static_cast<off_t>(done));
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return io_failure("cannot write", d.tmp, errno);
    done += static_cast<std::size_t>(r);
  }
  // The data must be on disk before the rename makes it the dump.
  if (::fsync(d.fd) != 0)
    return io_failure("cannot fsync", d.tmp, errno);
  auto fd = d.fd;
  d.fd = -1;
  if (::close(fd) != 0)
    return io_failure("cannot close", d.tmp, errno);
  if (::rename(d.tmp.c_str(), d.path.c_str()) != 0)
    return io_failure("cannot rename " + d.tmp + " to", d.path, errno);
  d.committed = true;
  // Make the rename durable. The new file is in place already, so a failure
  // here is reported but cannot restore the old one.
  auto dir = directory_of(d.path);
  fd_guard dfd{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (dfd.fd < 0)
    return io_failure("cannot open directory", dir, errno);
  // Some file systems cannot fsync a directory (EINVAL): nothing to do there.
  if (::fsync(dfd.fd) != 0 && errno != EINVAL)
    return io_failure("cannot fsync directory", dir, errno);
  return caf::none;
}

// -- reading ------------------------------------------------------------------

struct dump_reader::impl {
  std::string path;
  fd_guard fd{-1};
  std::uint64_t count = 0;
  /// Where the body starts in the file, its size and checksum.
  std::uint64_t body_at = 0;
  std::uint64_t body_size = 0;
  std::uint64_t body_sum = 0;
  /// Body bytes read into the window so far (the second time).
  std::uint64_t read = 0;
  /// The window: [pos, end) of buf is read and not yet consumed.
  std::vector<char> buf;
  std::size_t pos = 0;
  std::size_t end = 0;
  /// The second read's checksum.
  XXH3_state_t* hash = nullptr;

  ~impl() {
    if (hash != nullptr)
      XXH3_freeState(hash);
  }

  /// Reads up to `n` body bytes at `offset` of the body into `p`;
  /// bad_file if the file ends first (it shrank since it was checked).
  caf::error read_body(std::uint64_t offset, char* p, std::size_t n) {
    std::size_t got = 0;
    while (got < n) {
      auto r = ::pread(fd.fd, p + got, n - got,
                       static_cast<off_t>(body_at + offset + got));
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return io_failure("cannot read", path, errno);
      if (r == 0)
        return bad_file(path, "truncated body (the file shrank while reading)");
      got += static_cast<std::size_t>(r);
    }
    return caf::none;
  }
};

dump_reader::dump_reader() : impl_(std::make_unique<impl>()) {
  // nop
}

dump_reader::~dump_reader() = default;

caf::error dump_reader::open(const std::string& path,
                             const dump_types& types) {
  auto& d = *impl_;
  d.path = path;
  auto& fd = d.fd;
  fd.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd.fd < 0)
    return io_failure("cannot open", path, errno);
  struct stat st;
  if (::fstat(fd.fd, &st) != 0)
    return io_failure("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode))
    return caf::make_error(errc::io_error, "cannot read " + path
                                             + ": not a regular file");
  auto file_size = static_cast<std::uint64_t>(st.st_size);
  auto truncated_header = [&](std::uint64_t needed) {
    return bad_file(path, "truncated header (the file has "
                            + std::to_string(file_size)
                            + " bytes, the header needs "
                            + std::to_string(needed) + ")");
  };
  // Fixed part: magic and version first, so that a foreign file is called
  // that even when it is short.
  char fixed[fixed_size];
  auto want = static_cast<std::size_t>(
    std::min<std::uint64_t>(file_size, fixed_size));
  auto got = read_fully(fd.fd, fixed, want);
  if (got < 0)
    return io_failure("cannot read", path, errno);
  auto have = static_cast<std::size_t>(got);
  if (have < want)
    file_size = have; // shrank since fstat
  if (std::memcmp(fixed, magic, std::min(have, sizeof(magic))) != 0)
    return bad_file(path, "bad magic: not a cachet dump file");
  if (have < 12)
    return truncated_header(fixed_size);
  if (auto version = get_u32(fixed + 8); version != format_version)
    return bad_file(path, "unsupported version " + std::to_string(version)
                            + " (this build reads version "
                            + std::to_string(format_version) + ")");
  if (have < fixed_size)
    return truncated_header(fixed_size);
  auto key_len = get_u32(fixed + 48);
  auto value_len = get_u32(fixed + 52);
  // No overflow: two 32-bit lengths plus a few bytes fit easily in 64 bits.
  auto header_size = std::uint64_t{fixed_size} + key_len + value_len + 8;
  if (file_size < header_size)
    return truncated_header(header_size);
  // Bounded by the file's size, checked just above.
  std::vector<char> header(static_cast<std::size_t>(header_size));
  std::memcpy(header.data(), fixed, fixed_size);
  auto rest = header.size() - fixed_size;
  got = read_fully(fd.fd, header.data() + fixed_size, rest);
  if (got < 0)
    return io_failure("cannot read", path, errno);
  if (static_cast<std::size_t>(got) < rest)
    return truncated_header(header_size);
  auto named = header.size() - 8;
  if (XXH3_64bits(header.data(), named) != get_u64(header.data() + named))
    return bad_file(path, "header checksum mismatch: the header is corrupt");
  // From here on the header is what tab2file wrote.
  auto kind = get_u32(fixed + 12);
  if (kind != types.kind)
    return bad_file(path, "wrong table kind: the file holds a table of kind "
                            + kind_name(kind) + ", the table is of kind "
                            + kind_name(types.kind));
  std::string file_key(header.data() + fixed_size, key_len);
  std::string file_value(header.data() + fixed_size + key_len, value_len);
  if (get_u64(fixed + 16) != type_tag(types.key_name, types.value_name)
      || file_key != types.key_name || file_value != types.value_name)
    return bad_file(path, "wrong key/value types: the file holds "
                            + demangle(file_key) + " -> "
                            + demangle(file_value) + ", the table is "
                            + demangle(types.key_name) + " -> "
                            + demangle(types.value_name));
  auto file_count = get_u64(fixed + 24);
  auto body_size = get_u64(fixed + 32);
  auto body_sum = get_u64(fixed + 40);
  auto available = file_size - header_size;
  if (body_size > available)
    return bad_file(path, "truncated body (the file has "
                            + std::to_string(available) + " of "
                            + std::to_string(body_size) + " body bytes)");
  if (body_size < available)
    return bad_file(path, std::to_string(available - body_size)
                            + " trailing bytes after the body");
  // Every entry but one of two empty types takes at least a byte.
  if (file_count > std::max<std::uint64_t>(body_size, 1))
    return bad_file(path, "count mismatch: " + std::to_string(file_count)
                            + " entries cannot fit in "
                            + std::to_string(body_size) + " bytes");
  d.body_at = header_size;
  d.body_size = body_size;
  d.body_sum = body_sum;
  // The first read only checks the body, a chunk at a time: no entry is
  // handed out of a file that fails, and none is held twice.
  d.hash = XXH3_createState();
  if (d.hash == nullptr || XXH3_64bits_reset(d.hash) != XXH_OK)
    return caf::make_error(errc::io_error, "cannot create a hash state");
  d.buf.resize(static_cast<std::size_t>(
    std::min<std::uint64_t>(body_size, dump_writer::chunk_size)));
  for (std::uint64_t at = 0; at < body_size;) {
    auto n = static_cast<std::size_t>(
      std::min<std::uint64_t>(body_size - at, d.buf.size()));
    if (auto err = d.read_body(at, d.buf.data(), n))
      return err;
    XXH3_64bits_update(d.hash, d.buf.data(), n);
    at += n;
  }
  if (XXH3_64bits_digest(d.hash) != body_sum)
    return bad_file(path, "checksum mismatch: the body is corrupt");
  XXH3_64bits_reset(d.hash);
  d.count = file_count;
  return caf::none;
}

std::uint64_t dump_reader::count() const noexcept {
  return impl_->count;
}

const char* dump_reader::data() const noexcept {
  return impl_->buf.data() + impl_->pos;
}

std::size_t dump_reader::size() const noexcept {
  return impl_->end - impl_->pos;
}

std::uint64_t dump_reader::left() const noexcept {
  auto& d = *impl_;
  return d.body_size - d.read + (d.end - d.pos);
}

void dump_reader::consume(std::size_t n) noexcept {
  impl_->pos += std::min(n, size());
}

caf::expected<bool> dump_reader::more() {
  auto& d = *impl_;
  if (d.read == d.body_size)
    return false;
  // Keep what is not consumed, at the front; a window that one entry
  // fills doubles.
  auto kept = d.end - d.pos;
  std::memmove(d.buf.data(), d.buf.data() + d.pos, kept);
  d.pos = 0;
  d.end = kept;
  if (kept == d.buf.size())
    d.buf.resize(std::max<std::size_t>(2 * d.buf.size(), 1));
  auto n = static_cast<std::size_t>(std::min<std::uint64_t>(
    d.body_size - d.read, d.buf.size() - d.end));
  if (auto err = d.read_body(d.read, d.buf.data() + d.end, n))
    return err;
  XXH3_64bits_update(d.hash, d.buf.data() + d.end, n);
  d.end += n;
  d.read += n;
  return true;
}

caf::error dump_reader::finish() {
  auto& d = *impl_;
  if (d.read == d.body_size && XXH3_64bits_digest(d.hash) != d.body_sum)
    return bad_file(d.path, "checksum mismatch: the body changed while it "
                            "was read");
  return caf::none;
}

caf::error bad_dump_entry(const std::string& path, std::uint64_t index,
                          std::uint64_t count, std::size_t remaining,
                          const caf::error& reason) {
  if (remaining == 0)
    return bad_file(path, "count mismatch: the body ends after "
                            + std::to_string(index) + " of "
                            + std::to_string(count) + " entries");
  return bad_file(path, "entry " + std::to_string(index) + " of "
                          + std::to_string(count) + " does not decode ("
                          + caf::to_string(reason)
                          + "); did a type's inspect change?");
}

caf::error dump_count_mismatch(const std::string& path, std::uint64_t count,
                               std::size_t remaining) {
  return bad_file(path, "count mismatch: " + std::to_string(remaining)
                          + " bytes left after the " + std::to_string(count)
                          + " entries of the header");
}

} // namespace cachet::detail
