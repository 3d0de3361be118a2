// Forward declarations of cachet's public types.
#pragma once

#include <functional>

namespace cachet {

enum class access : unsigned char;
enum class errc : unsigned char;

struct counter_op;
struct default_hash;
struct table_options;

template <class Hash, class KeyEqual>
struct set;

template <class Compare>
struct ordered_set;

template <class K, class V, class Kind = set<default_hash, std::equal_to<>>>
class table;

template <class K, class V, class Kind = set<default_hash, std::equal_to<>>>
class owned_table;

class blocking_caller;

template <class K, class V>
class cache;

template <class K, class V>
class owned_cache;

template <class T>
class snapshot;

template <class T>
class owned_snapshot;

} // namespace cachet
