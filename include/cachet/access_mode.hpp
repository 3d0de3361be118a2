// ETS access modes: who besides the owner may touch a table directly.
//
//   mode        owner          others, direct        others, via messages
//   private_    read + write   nothing               what the owner serves
//   protected_  read + write   read only             what the owner serves
//   public_     read + write   read + write          what the owner serves
//
// NOTE: the trailing underscore only avoids the C++ keywords.
#pragma once

#include <cstdint>
#include <string>

namespace cachet {

/// Access mode of a table (ETS's private, protected and public).
enum class access_mode : std::uint8_t {
  private_,
  protected_,
  public_,
};

/// Returns "private", "protected" or "public".
inline std::string to_string(access_mode x) {
  switch (x) {
    case access_mode::private_: return "private";
    case access_mode::protected_: return "protected";
    case access_mode::public_: return "public";
  }
  return "access_mode(" + std::to_string(static_cast<int>(x)) + ")";
}

} // namespace cachet
