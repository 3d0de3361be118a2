// An incremental RESP2 request parser (multibulk and inline), as redis-server
// reads requests.
//
// The parser owns the connection's input buffer: read into `prepare()`,
// `commit()` what was read, then call `next()` until it answers need_more.
// Each command's arguments are views into the buffer, valid until the next
// `prepare()`. The stream may be split anywhere; parsing resumes where it
// stopped (a long bulk is never re-scanned). A value is copied once, by
// read() into the buffer; a bulk of 32 KiB or more gets its exact room when
// its header arrives, so it is never moved afterwards.
//
// Limits are checked before anything is allocated: a bulk length over
// `max_bulk_len` or a multibulk count over INT_MAX is a protocol error, and a
// huge count reserves room for at most 1024 arguments.
//
// NOTE: no dependencies beyond the standard library: the fuzzer builds it
// alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cachet::redis {

/// Bounds on what a client may send (redis-server's defaults).
struct parser_limits {
  /// proto-max-bulk-len.
  std::int64_t max_bulk_len = 512 * 1024 * 1024;
  /// PROTO_INLINE_MAX_SIZE: an inline request, or a count line, longer than
  /// this without its newline is an error.
  std::size_t max_inline = 64 * 1024;
};

enum class parse_status { command, need_more, error };

/// Parses a stream of requests. Not thread-safe: one per connection.
class resp_parser {
public:
  explicit resp_parser(parser_limits limits = {});

  /// Writable room of at least `min` bytes at the end of the buffered data.
  /// Invalidates the views returned by earlier `next()` calls.
  std::pair<char*, std::size_t> prepare(std::size_t min = 16 * 1024);

  /// Appends `n` bytes written into the room from `prepare()`.
  void commit(std::size_t n) {
    wpos_ += n;
  }

  /// The next complete command, into `args` (views into the buffer). After
  /// `error`, `error_text()` holds the reply text ("Protocol error: ...") and
  /// the parser must not be used again.
  parse_status next(std::vector<std::string_view>& args);

  const std::string& error_text() const noexcept {
    return error_;
  }

  /// Bytes received and not yet parsed into commands.
  std::size_t pending() const noexcept {
    return wpos_ - cmd_start_;
  }

  /// Allocated buffer size, for INFO.
  std::size_t capacity() const noexcept {
    return cap_;
  }

  /// Gives the buffer back if nothing is pending in it (an idle client's:
  /// the next prepare() allocates again).
  void release_if_idle();

private:
  parse_status fail(std::string text);
  parse_status parse_inline(std::vector<std::string_view>& args);
  void reserve_total(std::size_t total);

  parser_limits limits_;
  std::unique_ptr<char[]> buf_; // uninitialized: no zeroing of big bulks
  std::size_t cap_ = 0;
  std::size_t cmd_start_ = 0; // first byte of the command being parsed
  std::size_t rpos_ = 0;      // next byte to parse
  std::size_t wpos_ = 0;      // end of received data
  std::int64_t multibulk_ = 0; // arguments still expected, 0: between commands
  std::int64_t bulk_ = -1;     // length of the pending bulk, -1: header next
  std::size_t want_ = 0;       // room a big bulk needs from cmd_start_
  std::vector<std::pair<std::size_t, std::size_t>> offs_; // args so far
  std::string error_;
};

/// redis-server's string2ll: an optional '-', then digits without a leading
/// zero; no spaces, no '+'; false on overflow.
bool parse_ll(std::string_view s, std::int64_t& out) noexcept;

/// redis-server's sdssplitargs: splits an inline line into arguments,
/// handling "double" quotes (with \n \r \t \b \a \xHH escapes) and 'single'
/// quotes. Decodes into `line` in place (the result is never longer); the
/// views point into it. False on unbalanced quotes.
bool split_args(char* line, std::size_t len,
                std::vector<std::string_view>& args);

} // namespace cachet::redis
