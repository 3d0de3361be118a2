# FindXXHash: locates libxxhash (xxHash 0.8, for XXH3) as Debian's
# libxxhash-dev installs it: xxhash.h and libxxhash, and no CMake config.
#
# Provides the imported target XXHash::xxhash and sets XXHash_FOUND and
# XXHash_VERSION (read from xxhash.h). cachet links it privately; the
# installed cachet-config.cmake looks for it again only when libcachet is a
# static library, whose consumers link libxxhash themselves.

find_path(XXHash_INCLUDE_DIR NAMES xxhash.h)
find_library(XXHash_LIBRARY NAMES xxhash)

if(XXHash_INCLUDE_DIR AND EXISTS "${XXHash_INCLUDE_DIR}/xxhash.h")
  foreach(part MAJOR MINOR RELEASE)
    file(STRINGS "${XXHash_INCLUDE_DIR}/xxhash.h" xxhash_line
         REGEX "^#define XXH_VERSION_${part} +[0-9]+")
    string(REGEX MATCH "[0-9]+$" xxhash_${part} "${xxhash_line}")
  endforeach()
  set(XXHash_VERSION "${xxhash_MAJOR}.${xxhash_MINOR}.${xxhash_RELEASE}")
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(XXHash
  REQUIRED_VARS XXHash_LIBRARY XXHash_INCLUDE_DIR
  VERSION_VAR XXHash_VERSION)

if(XXHash_FOUND AND NOT TARGET XXHash::xxhash)
  add_library(XXHash::xxhash UNKNOWN IMPORTED)
  set_target_properties(XXHash::xxhash PROPERTIES
    IMPORTED_LOCATION "${XXHash_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${XXHash_INCLUDE_DIR}")
endif()

mark_as_advanced(XXHash_INCLUDE_DIR XXHash_LIBRARY)
