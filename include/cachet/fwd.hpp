// Forward declarations of cachet's public types.
#pragma once

#include <cstdint>
#include <functional>

namespace cachet {

// -- tables -------------------------------------------------------------------

enum class access_mode : std::uint8_t;
enum class errc : std::uint8_t;

struct counter_op;
struct default_hash;
struct ownership_options;
struct table_options;

template <class Hash, class KeyEqual>
struct set;

template <class Compare>
struct ordered_set;

template <class Hash, class KeyEqual>
struct bag;

template <class Hash, class KeyEqual>
struct duplicate_bag;

struct table_info;

template <class K>
struct key_range;

template <class K, class V, class Position, class R>
class continuation;

template <class R, class Continuation>
struct select_page;

template <class K, class V, class Kind = set<default_hash, std::equal_to<>>>
class table;

template <class K, class V, class Kind = set<default_hash, std::equal_to<>>>
class owned_table;

template <class K, class V, class Kind = set<default_hash, std::equal_to<>>>
class named_table;

template <class Owned>
class transfer;

template <class K, class V, class Kind = set<default_hash, std::equal_to<>>>
using table_transfer = transfer<owned_table<K, V, Kind>>;

template <class V>
struct updater;

template <class K, class V>
struct match;

template <class K, class V>
struct replacer;

enum class table_policy : std::uint8_t;

// -- caches -------------------------------------------------------------------

enum class eviction_policy : std::uint8_t;
enum class removal_cause : std::uint8_t;

struct cache_stats;

template <class K, class V>
struct cache_options;

template <class K, class V>
struct cache_index;

template <class K, class V>
struct cache_loader;

template <class K, class V>
struct cache_index_loader;

template <class K, class V>
class cache;

template <class K, class V>
class owned_cache;

template <class K, class V>
using cache_transfer = transfer<owned_cache<K, V>>;

// -- snapshots ----------------------------------------------------------------

struct snapshot_options;

template <class T>
class snapshot;

template <class T>
class owned_snapshot;

template <class T>
using snapshot_transfer = transfer<owned_snapshot<T>>;

// -- calls and supervision ----------------------------------------------------

class blocking_caller;
class request_timer;

enum class strategy : std::uint8_t;
enum class restart_type : std::uint8_t;
enum class child_type : std::uint8_t;

struct shutdown_spec;
struct child_context;
struct child_spec;
struct supervisor_flags;
struct child_info;
struct child_counts;

} // namespace cachet
