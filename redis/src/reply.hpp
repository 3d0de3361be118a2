// RESP2 reply encoding, appended to a connection's output buffer.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace cachet::redis::reply {

inline void integer_text(std::string& out, std::int64_t x) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof(buf), x);
  out.append(buf, static_cast<std::size_t>(res.ptr - buf));
}

/// "+text\r\n"
inline void simple(std::string& out, std::string_view text) {
  out += '+';
  out.append(text);
  out.append("\r\n", 2);
}

/// "-text\r\n"; like redis, CR and LF in the text become spaces so the
/// reply stays one line.
inline void error(std::string& out, std::string_view text) {
  out += '-';
  auto at = out.size();
  out.append(text);
  for (auto i = at; i < out.size(); ++i)
    if (out[i] == '\r' || out[i] == '\n')
      out[i] = ' ';
  out.append("\r\n", 2);
}

/// ":n\r\n"
inline void integer(std::string& out, std::int64_t x) {
  out += ':';
  integer_text(out, x);
  out.append("\r\n", 2);
}

/// "$len\r\nbytes\r\n"
inline void bulk(std::string& out, std::string_view bytes) {
  out += '$';
  integer_text(out, static_cast<std::int64_t>(bytes.size()));
  out.append("\r\n", 2);
  out.append(bytes);
  out.append("\r\n", 2);
}

/// "$-1\r\n": RESP2's null.
inline void null(std::string& out) {
  out.append("$-1\r\n", 5);
}

/// "*-1\r\n": RESP2's null array (EXEC after a watched key changed).
inline void null_array(std::string& out) {
  out.append("*-1\r\n", 5);
}

/// "*n\r\n", followed by n replies.
inline void array(std::string& out, std::int64_t n) {
  out += '*';
  integer_text(out, n);
  out.append("\r\n", 2);
}

inline void ok(std::string& out) {
  out.append("+OK\r\n", 5);
}

} // namespace cachet::redis::reply
