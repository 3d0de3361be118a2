// Every message tag cachet defines, in one place: the table operations an
// owner serves (owner.hpp), the cache and snapshot operations (cache_owner.hpp,
// snapshot_owner.hpp) and the supervisor's requests (supervisor.hpp).
//
// An atom names an operation the same way for every kind of owner: a cache
// owner answers (lookup_atom, key) as a table owner does.
#pragma once

#include <caf/atom.hpp>
#include <caf/type_id.hpp>

// Table operations (owner_actor).
CAF_ADD_ATOM(cachet, cachet, insert_atom, "insert")
CAF_ADD_ATOM(cachet, cachet, insert_new_atom, "insert_new")
CAF_ADD_ATOM(cachet, cachet, lookup_atom, "lookup")
CAF_ADD_ATOM(cachet, cachet, member_atom, "member")
CAF_ADD_ATOM(cachet, cachet, erase_atom, "erase")
CAF_ADD_ATOM(cachet, cachet, take_atom, "take")
CAF_ADD_ATOM(cachet, cachet, update_counter_atom, "upd_ctr")
CAF_ADD_ATOM(cachet, cachet, update_atom, "update")
CAF_ADD_ATOM(cachet, cachet, size_atom, "size")
CAF_ADD_ATOM(cachet, cachet, clear_atom, "clear")
CAF_ADD_ATOM(cachet, cachet, to_list_atom, "to_list")
CAF_ADD_ATOM(cachet, cachet, first_atom, "first")
CAF_ADD_ATOM(cachet, cachet, last_atom, "last")
CAF_ADD_ATOM(cachet, cachet, next_atom, "next")
CAF_ADD_ATOM(cachet, cachet, prev_atom, "prev")
CAF_ADD_ATOM(cachet, cachet, range_atom, "range")
CAF_ADD_ATOM(cachet, cachet, dump_atom, "dump")
CAF_ADD_ATOM(cachet, cachet, erase_object_atom, "erase_obj")
CAF_ADD_ATOM(cachet, cachet, select_atom, "select")
CAF_ADD_ATOM(cachet, cachet, select_count_atom, "sel_count")
CAF_ADD_ATOM(cachet, cachet, select_delete_atom, "sel_delete")
CAF_ADD_ATOM(cachet, cachet, select_replace_atom, "sel_repl")

// Cache operations (cache_actor); the table atoms above serve caches too.
CAF_ADD_ATOM(cachet, cachet, fetch_atom, "fetch")
CAF_ADD_ATOM(cachet, cachet, fetch_by_atom, "fetch_by")
CAF_ADD_ATOM(cachet, cachet, lookup_by_atom, "lookup_by")
CAF_ADD_ATOM(cachet, cachet, stats_atom, "stats")
CAF_ADD_ATOM(cachet, cachet, sweep_atom, "sweep")
CAF_ADD_ATOM(cachet, cachet, cache_tick_atom, "cache_tick")
CAF_ADD_ATOM(cachet, cachet, load_done_atom, "load_done")
CAF_ADD_ATOM(cachet, cachet, load_late_atom, "load_late")

// Snapshot operations (snapshot_actor).
CAF_ADD_ATOM(cachet, cachet, publish_atom, "publish")

// Supervisor requests (supervisor_actor).
CAF_ADD_ATOM(cachet, cachet, which_children_atom, "which_chld")
CAF_ADD_ATOM(cachet, cachet, count_children_atom, "count_chld")
CAF_ADD_ATOM(cachet, cachet, start_child_atom, "start_chld")
CAF_ADD_ATOM(cachet, cachet, terminate_child_atom, "term_chld")
CAF_ADD_ATOM(cachet, cachet, restart_child_atom, "rest_chld")
CAF_ADD_ATOM(cachet, cachet, delete_child_atom, "del_chld")

// Distribution (dist/node.hpp, dist/remote.hpp): node events, what nodes
// tell each other, remote lookups.
CAF_ADD_ATOM(cachet, cachet, node_up_atom, "node_up")
CAF_ADD_ATOM(cachet, cachet, node_down_atom, "node_down")
CAF_ADD_ATOM(cachet, cachet, hello_atom, "hello")
CAF_ADD_ATOM(cachet, cachet, meet_atom, "meet")
CAF_ADD_ATOM(cachet, cachet, join_atom, "join")
CAF_ADD_ATOM(cachet, cachet, retry_atom, "retry")
CAF_ADD_ATOM(cachet, cachet, monitor_nodes_atom, "mon_nodes")
CAF_ADD_ATOM(cachet, cachet, whereis_atom, "whereis")
