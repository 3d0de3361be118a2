// RESP2 and RESP3 reply encoding, appended to a connection's output buffer.
// Most replies are the same in both; those that differ take `resp3`.
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

/// The null: "$-1\r\n" in RESP2, "_\r\n" in RESP3.
inline void null(std::string& out, bool resp3) {
  out.append(resp3 ? "_\r\n" : "$-1\r\n");
}

/// The null array (EXEC after a watched key changed): "*-1\r\n" in RESP2,
/// RESP3's null.
inline void null_array(std::string& out, bool resp3) {
  out.append(resp3 ? "_\r\n" : "*-1\r\n");
}

/// "*n\r\n", followed by n replies.
inline void array(std::string& out, std::int64_t n) {
  out += '*';
  integer_text(out, n);
  out.append("\r\n", 2);
}

/// A map of `n` pairs, followed by 2n replies: "%n\r\n" in RESP3, an
/// array of 2n in RESP2.
inline void map(std::string& out, std::int64_t n, bool resp3) {
  if (!resp3)
    return array(out, 2 * n);
  out += '%';
  integer_text(out, n);
  out.append("\r\n", 2);
}

/// Text for people (INFO): RESP3's verbatim string of format "txt", a bulk
/// in RESP2.
inline void verbatim(std::string& out, std::string_view text, bool resp3) {
  if (!resp3)
    return bulk(out, text);
  out += '=';
  integer_text(out, static_cast<std::int64_t>(text.size() + 4));
  out.append("\r\ntxt:", 6);
  out.append(text);
  out.append("\r\n", 2);
}

inline void ok(std::string& out) {
  out.append("+OK\r\n", 5);
}

} // namespace cachet::redis::reply
