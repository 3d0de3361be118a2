// Glob-style pattern matching, as redis-server's KEYS, SCAN MATCH and
// CONFIG GET understand it: * ? [abc] [^a] [a-z] and \ escapes.
#pragma once

#include <string_view>

namespace cachet::redis {

/// True if `str` matches `pattern` (binary-safe).
bool glob_match(std::string_view pattern, std::string_view str,
                bool nocase = false);

} // namespace cachet::redis
