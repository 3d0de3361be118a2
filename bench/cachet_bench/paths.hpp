// The measured paths, by the names the JSON and the table use.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace cachet_bench {

enum class path_id {
  message_actor,
  message_thread,
  direct_protected,
  direct_public,
  peer_shared_mutex,
  peer_tbb,
  peer_libcuckoo,
  peer_tbb_unordered,
  peer_cds_feldman,
  peer_cds_splitlist,
  peer_xenium_vyukov,
  peer_xenium_harris_michael,
  ceiling_unsync,
  ceiling_boost_flat,
  ceiling_absl_flat,
  beam_genserver_call,
  beam_ets_lookup,
};

/// In the order of the table's rows.
constexpr std::array<path_id, 17> all_paths{
  path_id::direct_protected,
  path_id::direct_public,
  path_id::peer_shared_mutex,
  path_id::peer_tbb,
  path_id::peer_libcuckoo,
  path_id::peer_tbb_unordered,
  path_id::peer_cds_feldman,
  path_id::peer_cds_splitlist,
  path_id::peer_xenium_vyukov,
  path_id::peer_xenium_harris_michael,
  path_id::ceiling_unsync,
  path_id::ceiling_boost_flat,
  path_id::ceiling_absl_flat,
  path_id::message_actor,
  path_id::message_thread,
  path_id::beam_genserver_call,
  path_id::beam_ets_lookup,
};

/// The concurrent C++ peers direct reads are held against.
constexpr std::array<path_id, 8> concurrent_peers{
  path_id::peer_shared_mutex,  path_id::peer_tbb,
  path_id::peer_libcuckoo,     path_id::peer_cds_feldman,
  path_id::peer_cds_splitlist, path_id::peer_xenium_vyukov,
  path_id::peer_xenium_harris_michael, path_id::peer_tbb_unordered,
};

/// Unsynchronized flat maps: the ceiling of a hash lookup on this machine.
constexpr std::array<path_id, 2> flat_ceilings{
  path_id::ceiling_boost_flat,
  path_id::ceiling_absl_flat,
};

inline std::string_view to_string(path_id x) {
  switch (x) {
    case path_id::message_actor: return "message_actor";
    case path_id::message_thread: return "message_thread";
    case path_id::direct_protected: return "direct_protected";
    case path_id::direct_public: return "direct_public";
    case path_id::peer_shared_mutex: return "peer_shared_mutex";
    case path_id::peer_tbb: return "peer_tbb";
    case path_id::peer_libcuckoo: return "peer_libcuckoo";
    case path_id::peer_tbb_unordered: return "peer_tbb_unordered";
    case path_id::peer_cds_feldman: return "peer_cds_feldman";
    case path_id::peer_cds_splitlist: return "peer_cds_splitlist";
    case path_id::peer_xenium_vyukov: return "peer_xenium_vyukov";
    case path_id::peer_xenium_harris_michael:
      return "peer_xenium_harris_michael";
    case path_id::ceiling_unsync: return "ceiling_unsync";
    case path_id::ceiling_boost_flat: return "ceiling_boost_flat";
    case path_id::ceiling_absl_flat: return "ceiling_absl_flat";
    case path_id::beam_genserver_call: return "beam_genserver_call";
    case path_id::beam_ets_lookup: return "beam_ets_lookup";
  }
  return "?";
}

inline std::optional<path_id> path_from_string(std::string_view s) {
  for (auto p : all_paths)
    if (to_string(p) == s)
      return p;
  return std::nullopt;
}

/// One-line description for the table's legend and the README.
inline std::string_view describe(path_id x) {
  switch (x) {
    case path_id::message_actor:
      return "client actors -> owner, request(...).then, one call in flight each";
    case path_id::message_thread:
      return "plain threads -> owner, one cachet::blocking_caller each "
             "(thread lending)";
    case path_id::direct_protected:
      return "cachet::table::visit on a protected table (reads only)";
    case path_id::direct_public:
      return "cachet::table visit/insert on a public table";
    case path_id::peer_shared_mutex:
      return "std::unordered_map + std::shared_mutex";
    case path_id::peer_tbb:
      return "tbb::concurrent_hash_map (const_accessor / accessor)";
    case path_id::peer_libcuckoo:
      return "libcuckoo::cuckoohash_map (find_fn / insert_or_assign)";
    case path_id::peer_tbb_unordered:
      return "tbb::concurrent_unordered_map (lock-free find; writes assign "
             "in place)";
    case path_id::peer_cds_feldman:
      return "libcds FeldmanHashSet of {hash, key, value}, general_threaded "
             "RCU (find / update)";
    case path_id::peer_cds_splitlist:
      return "libcds SplitListMap on IterableKVList, DHP (find / upsert)";
    case path_id::peer_xenium_vyukov:
      return "xenium::vyukov_hash_map, epoch_based (try_get_value; u64: "
             "erase + emplace, str: assign under the bucket lock)";
    case path_id::peer_xenium_harris_michael:
      return "xenium::harris_michael_hash_map, debra (find; erase + "
             "emplace)";
    case path_id::ceiling_unsync:
      return "std::unordered_map, no synchronization (reads; writes at 1 thread)";
    case path_id::ceiling_boost_flat:
      return "boost::unordered_flat_map, no synchronization (reads; writes at "
             "1 thread)";
    case path_id::ceiling_absl_flat:
      return "absl::flat_hash_map, no synchronization (reads; writes at 1 "
             "thread)";
    case path_id::beam_genserver_call:
      return "BEAM: GenServer.call to the table's owner process";
    case path_id::beam_ets_lookup:
      return "BEAM: :ets.lookup, read_concurrency (protected; public for writes)";
  }
  return "";
}

inline bool is_message(path_id x) {
  return x == path_id::message_actor || x == path_id::message_thread;
}

inline bool is_beam(path_id x) {
  return x == path_id::beam_genserver_call || x == path_id::beam_ets_lookup;
}

inline bool is_ceiling(path_id x) {
  return x == path_id::ceiling_unsync || x == path_id::ceiling_boost_flat
         || x == path_id::ceiling_absl_flat;
}

/// Whether the path can run a mix with writes at this thread count: a
/// protected table takes no direct writes, an unsynchronized map no
/// concurrent ones.
inline bool supports(path_id x, int mix, std::size_t threads) {
  if (mix == 100)
    return true;
  if (x == path_id::direct_protected)
    return false;
  if (is_ceiling(x))
    return threads == 1;
  return true;
}

} // namespace cachet_bench
