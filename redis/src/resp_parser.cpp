// The RESP2 request parser: redis-server's processMultibulkBuffer and
// processInlineBuffer (networking.c) as a resumable state machine over a
// buffer the parser owns. Error texts and limits are redis-server 7.0's, so
// a client sees the same "-ERR Protocol error: ..." from both servers.
#include "resp_parser.hpp"

#include <algorithm>
#include <climits>
#include <cstring>

namespace cachet::redis {

namespace {

// Bulks this long get their exact room up front (redis: PROTO_MBULK_BIG_ARG).
constexpr std::size_t big_arg = 32 * 1024;

// After a big request, an empty buffer shrinks back to this.
constexpr std::size_t idle_capacity = 16 * 1024;

bool is_space(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v'
         || c == '\f';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

} // namespace

bool parse_ll(std::string_view s, std::int64_t& out) noexcept {
  if (s.empty() || s.size() > 20)
    return false;
  if (s.size() == 1 && s[0] == '0') {
    out = 0;
    return true;
  }
  std::size_t i = 0;
  bool negative = false;
  if (s[0] == '-') {
    negative = true;
    if (++i == s.size())
      return false;
  }
  if (s[i] < '1' || s[i] > '9')
    return false;
  std::uint64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    auto d = static_cast<std::uint64_t>(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10)
      return false;
    v = v * 10 + d;
  }
  if (negative) {
    if (v > static_cast<std::uint64_t>(INT64_MAX) + 1)
      return false;
    out = v == static_cast<std::uint64_t>(INT64_MAX) + 1
            ? INT64_MIN
            : -static_cast<std::int64_t>(v);
  } else {
    if (v > static_cast<std::uint64_t>(INT64_MAX))
      return false;
    out = static_cast<std::int64_t>(v);
  }
  return true;
}

bool split_args(char* line, std::size_t len,
                std::vector<std::string_view>& args) {
  args.clear();
  char* p = line;
  // Like redis (which walks a C string), a NUL ends the line.
  char* end = static_cast<char*>(std::memchr(line, '\0', len));
  if (end == nullptr)
    end = line + len;
  char* w = line; // decoded bytes go here; never ahead of p
  for (;;) {
    while (p < end && is_space(*p))
      ++p;
    if (p == end)
      return true;
    char* start = w;
    bool in_dq = false;
    bool in_sq = false;
    bool done = false;
    while (!done) {
      if (in_dq) {
        if (p == end)
          return false; // unterminated quotes
        if (*p == '\\' && p + 3 < end && p[1] == 'x' && hex_value(p[2]) >= 0
            && hex_value(p[3]) >= 0) {
          *w++ = static_cast<char>(hex_value(p[2]) * 16 + hex_value(p[3]));
          p += 3;
        } else if (*p == '\\' && p + 1 < end) {
          ++p;
          switch (*p) {
            case 'n': *w++ = '\n'; break;
            case 'r': *w++ = '\r'; break;
            case 't': *w++ = '\t'; break;
            case 'b': *w++ = '\b'; break;
            case 'a': *w++ = '\a'; break;
            default: *w++ = *p; break;
          }
        } else if (*p == '"') {
          // The closing quote must be followed by a space or nothing.
          if (p + 1 < end && !is_space(p[1]))
            return false;
          done = true;
        } else {
          *w++ = *p;
        }
      } else if (in_sq) {
        if (p == end)
          return false;
        if (*p == '\\' && p + 1 < end && p[1] == '\'') {
          ++p;
          *w++ = '\'';
        } else if (*p == '\'') {
          if (p + 1 < end && !is_space(p[1]))
            return false;
          done = true;
        } else {
          *w++ = *p;
        }
      } else {
        if (p == end) {
          done = true;
          break;
        }
        switch (*p) {
          case ' ': case '\n': case '\r': case '\t':
            done = true;
            break;
          case '"': in_dq = true; break;
          case '\'': in_sq = true; break;
          default: *w++ = *p; break;
        }
      }
      if (p < end)
        ++p;
    }
    args.emplace_back(start, static_cast<std::size_t>(w - start));
  }
}

resp_parser::resp_parser(parser_limits limits) : limits_(limits) {
  // nop: the buffer is allocated on the first prepare()
}

void resp_parser::reserve_total(std::size_t total) {
  if (total <= cap_)
    return;
  std::unique_ptr<char[]> fresh{new char[total]};
  if (wpos_ > 0)
    std::memcpy(fresh.get(), buf_.get(), wpos_);
  buf_ = std::move(fresh);
  cap_ = total;
}

std::pair<char*, std::size_t> resp_parser::prepare(std::size_t min) {
  if (cmd_start_ == wpos_) {
    // Everything parsed: start over at the front, and give back a big buffer.
    cmd_start_ = rpos_ = wpos_ = 0;
    if (cap_ > idle_capacity * 64) {
      buf_.reset();
      cap_ = 0;
    }
  } else if (cmd_start_ > 0) {
    // Move the partial command to the front; its offsets move with it.
    auto shift = cmd_start_;
    std::memmove(buf_.get(), buf_.get() + shift, wpos_ - shift);
    for (auto& off : offs_)
      off.first -= shift;
    rpos_ -= shift;
    wpos_ -= shift;
    cmd_start_ = 0;
  }
  auto need = std::max(wpos_ + min, want_);
  if (need > cap_)
    reserve_total(std::max({need, cap_ + cap_ / 2, idle_capacity}));
  return {buf_.get() + wpos_, cap_ - wpos_};
}

void resp_parser::release_if_idle() {
  if (cmd_start_ != wpos_ || multibulk_ != 0)
    return;
  buf_.reset();
  cap_ = cmd_start_ = rpos_ = wpos_ = 0;
  std::vector<std::pair<std::size_t, std::size_t>>{}.swap(offs_);
}

parse_status resp_parser::fail(std::string text) {
  error_ = "Protocol error: " + std::move(text);
  return parse_status::error;
}

parse_status resp_parser::parse_inline(std::vector<std::string_view>& args) {
  auto* base = buf_.get();
  auto* nl = static_cast<char*>(std::memchr(base + rpos_, '\n', wpos_ - rpos_));
  if (nl == nullptr) {
    if (wpos_ - rpos_ > limits_.max_inline)
      return fail("too big inline request");
    return parse_status::need_more;
  }
  auto* line = base + rpos_;
  auto len = static_cast<std::size_t>(nl - line);
  if (len > 0 && line[len - 1] == '\r')
    --len;
  rpos_ = static_cast<std::size_t>(nl - base) + 1;
  cmd_start_ = rpos_;
  if (!split_args(line, len, args))
    return fail("unbalanced quotes in request");
  return parse_status::command;
}

parse_status resp_parser::next(std::vector<std::string_view>& args) {
  args.clear();
  auto* base = buf_.get();
  for (;;) {
    if (multibulk_ == 0) {
      cmd_start_ = rpos_;
      offs_.clear();
      want_ = 0;
      if (rpos_ == wpos_)
        return parse_status::need_more;
      if (base[rpos_] != '*') {
        auto st = parse_inline(args);
        if (st == parse_status::command && args.empty())
          continue; // an empty line: nothing to run
        return st;
      }
      auto* cr = static_cast<char*>(
        std::memchr(base + rpos_, '\r', wpos_ - rpos_));
      if (cr == nullptr) {
        if (wpos_ - rpos_ > limits_.max_inline)
          return fail("too big mbulk count string");
        return parse_status::need_more;
      }
      auto line_len = static_cast<std::size_t>(cr - (base + rpos_));
      if (line_len + 2 > wpos_ - rpos_)
        return parse_status::need_more; // the '\n' is still to come
      std::int64_t n = 0;
      if (!parse_ll({base + rpos_ + 1, line_len - 1}, n) || n > INT_MAX)
        return fail("invalid multibulk length");
      rpos_ += line_len + 2;
      if (n <= 0) {
        cmd_start_ = rpos_;
        continue; // "*0" and "*-1" run nothing, as in redis
      }
      multibulk_ = n;
      offs_.reserve(static_cast<std::size_t>(std::min<std::int64_t>(n, 1024)));
    }
    while (multibulk_ > 0) {
      if (bulk_ < 0) {
        if (rpos_ == wpos_)
          return parse_status::need_more;
        auto* cr = static_cast<char*>(
          std::memchr(base + rpos_, '\r', wpos_ - rpos_));
        if (cr == nullptr) {
          if (wpos_ - rpos_ > limits_.max_inline)
            return fail("too big bulk count string");
          return parse_status::need_more;
        }
        auto line_len = static_cast<std::size_t>(cr - (base + rpos_));
        if (line_len + 2 > wpos_ - rpos_)
          return parse_status::need_more;
        if (base[rpos_] != '$')
          return fail(std::string{"expected '$', got '"} + base[rpos_] + "'");
        std::int64_t n = 0;
        if (!parse_ll({base + rpos_ + 1, line_len - 1}, n) || n < 0
            || n > limits_.max_bulk_len)
          return fail("invalid bulk length");
        rpos_ += line_len + 2;
        bulk_ = n;
        if (static_cast<std::size_t>(n) >= big_arg)
          // The next prepare() makes exactly this much room, once.
          want_ = (rpos_ - cmd_start_) + static_cast<std::size_t>(n) + 2;
      }
      auto need = static_cast<std::size_t>(bulk_) + 2;
      if (wpos_ - rpos_ < need)
        return parse_status::need_more;
      // Like redis, the two bytes after the bulk are skipped unchecked.
      offs_.emplace_back(rpos_, static_cast<std::size_t>(bulk_));
      rpos_ += need;
      bulk_ = -1;
      --multibulk_;
    }
    for (auto& [off, len] : offs_)
      args.emplace_back(base + off, len);
    cmd_start_ = rpos_;
    want_ = 0;
    return parse_status::command;
  }
}

} // namespace cachet::redis
