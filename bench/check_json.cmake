# The bench test: runs cachet-bench with tiny settings and checks that its
# JSON is well-formed and has every field the issue asks for. No timing is
# asserted: the figures only have to be numbers.
#
# cmake -DBENCH=path/to/cachet-bench -DOUT=file.json -P check_json.cmake
cmake_minimum_required(VERSION 3.19)

execute_process(
  COMMAND ${BENCH} --seconds=0.05 --keys=1000 --threads=1 --mix=100,95
          --dist=uniform,zipf --values=u64,str --callers=1,2 --repeats=1
          --memory-entries=10000 --crashes=20 --query-entries=10000 --no-beam
          --growth-entries=100000 --json=${OUT}
  RESULT_VARIABLE rc
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cachet-bench failed (${rc}):\n${out}\n${err}")
endif()
foreach(word "targets" "direct_protected" "PASS|MISS")
  if(NOT out MATCHES "${word}")
    message(FATAL_ERROR "no '${word}' in the table:\n${out}")
  endif()
endforeach()

file(READ ${OUT} doc)
# string(JSON) stops with an error on malformed JSON or a missing member.
macro(get var)
  string(JSON ${var} ERROR_VARIABLE json_err GET "${doc}" ${ARGN})
  if(json_err)
    message(FATAL_ERROR "JSON: ${ARGN}: ${json_err}")
  endif()
endmacro()
macro(type_of var)
  string(JSON ${var} ERROR_VARIABLE json_err TYPE "${doc}" ${ARGN})
  if(json_err)
    message(FATAL_ERROR "JSON: ${ARGN}: ${json_err}")
  endif()
endmacro()
macro(expect_type expected)
  type_of(t ${ARGN})
  if(NOT t MATCHES "^(${expected})$")
    message(FATAL_ERROR "JSON: ${ARGN} is ${t}, expected ${expected}")
  endif()
endmacro()

foreach(field cores model compiler)
  get(v machine ${field})
endforeach()
expect_type("NUMBER" machine cores)

# results: every row has the issue's fields; message rows have latencies.
set(paths message_actor message_thread direct_protected direct_public
          peer_shared_mutex peer_tbb peer_libcuckoo peer_tbb_unordered
          peer_cds_feldman peer_cds_splitlist peer_xenium_vyukov
          peer_xenium_harris_michael ceiling_unsync ceiling_boost_flat
          ceiling_absl_flat beam_genserver_call beam_ets_lookup)
string(JSON n LENGTH "${doc}" results)
if(n EQUAL 0)
  message(FATAL_ERROR "JSON: no results")
endif()
math(EXPR last "${n} - 1")
set(seen "")
foreach(i RANGE ${last})
  get(path results ${i} path)
  if(NOT path IN_LIST paths)
    message(FATAL_ERROR "JSON: results ${i}: unknown path ${path}")
  endif()
  list(APPEND seen ${path})
  foreach(field threads keys mix ops_per_sec)
    expect_type("NUMBER" results ${i} ${field})
  endforeach()
  foreach(field dist value_type)
    expect_type("STRING" results ${i} ${field})
  endforeach()
  if(path MATCHES "^message_")
    foreach(field p50_us p99_us p999_us)
      expect_type("NUMBER" results ${i} ${field})
    endforeach()
  endif()
endforeach()
foreach(path message_actor message_thread direct_protected direct_public
             peer_shared_mutex ceiling_unsync)
  if(NOT path IN_LIST seen)
    message(FATAL_ERROR "JSON: no row for ${path}")
  endif()
endforeach()
# A peer built without its package has no row, and `missing` says so.
string(JSON n LENGTH "${doc}" missing)
set(missing "")
if(n GREATER 0)
  math(EXPR last "${n} - 1")
  foreach(i RANGE ${last})
    get(m missing ${i})
    list(APPEND missing "${m}")
  endforeach()
endif()
foreach(path peer_tbb peer_libcuckoo peer_tbb_unordered peer_cds_feldman
             peer_cds_splitlist peer_xenium_vyukov peer_xenium_harris_michael
             ceiling_boost_flat ceiling_absl_flat)
  if(NOT path IN_LIST seen AND NOT missing MATCHES "(^|;)${path}: ")
    message(FATAL_ERROR "JSON: no row for ${path}, and not in missing")
  endif()
endforeach()

# targets: each {name, measured, goal, pass}; unmeasured ones say why.
set(names direct_vs_beam_ets_lookup_1_thread
          direct_vs_beam_ets_lookup_2_threads direct_vs_best_cpp_peer_1K_keys
          direct_vs_best_cpp_peer_1M_keys direct_vs_best_flat_ceiling
          direct_vs_unsync_ceiling direct_scaling_2_threads message_scaling
          message_actor_vs_beam_genserver_call
          message_thread_vs_beam_genserver_call bytes_per_entry
          bytes_per_entry_u64 growth_read_p999_ratio restart_p99_fresh
          restart_p99_heir select_family_vs_beam_ets_1_thread)
string(JSON n LENGTH "${doc}" targets)
math(EXPR last "${n} - 1")
set(got "")
foreach(i RANGE ${last})
  get(name targets ${i} name)
  list(APPEND got ${name})
  expect_type("NUMBER" targets ${i} goal)
  expect_type("NUMBER|NULL" targets ${i} measured)
  expect_type("BOOLEAN|NULL" targets ${i} pass)
  type_of(t targets ${i} measured)
  if(t STREQUAL "NULL")
    get(reason targets ${i} reason)
  endif()
endforeach()
foreach(name IN LISTS names)
  if(NOT name IN_LIST got)
    message(FATAL_ERROR "JSON: no target ${name}")
  endif()
endforeach()

# The places for what is measured elsewhere or later.
foreach(which fresh heir)
  get(v restart ${which} status)
  if(NOT v STREQUAL "measured")
    message(FATAL_ERROR "JSON: restart ${which} not measured")
  endif()
  expect_type("NUMBER" restart ${which} p99_us)
endforeach()
get(v reload status)
string(JSON n LENGTH "${doc}" memory)
if(n EQUAL 0)
  message(FATAL_ERROR "JSON: no memory rows")
endif()
get(v memory 0 rss_bytes_per_entry)
# Both fills of cachet: (16 B, 100 B) and u64 -> u64.
math(EXPR last "${n} - 1")
set(fills "")
foreach(i RANGE ${last})
  get(s memory ${i} structure)
  get(vt memory ${i} value_type)
  expect_type("NUMBER" memory ${i} rss_bytes_per_entry)
  if(s STREQUAL "cachet")
    list(APPEND fills ${vt})
  endif()
endforeach()
foreach(vt str u64)
  if(NOT vt IN_LIST fills)
    message(FATAL_ERROR "JSON: no memory row for cachet, ${vt}")
  endif()
endforeach()

# Growth: reads while the table grows and without, each with its tail.
get(v growth status)
if(NOT v STREQUAL "measured")
  get(reason growth reason)
  message(FATAL_ERROR "JSON: growth not measured: ${reason}")
endif()
foreach(which during_growth no_growth)
  foreach(field reads p50_us p99_us p999_us max_us)
    expect_type("NUMBER" growth ${which} ${field})
  endforeach()
endforeach()
foreach(field entries growth_seconds p999_ratio)
  expect_type("NUMBER" growth ${field})
endforeach()

# The query rows: cachet's four, each with its rate (--no-beam: no BEAM rows).
get(v query status)
if(NOT v STREQUAL "measured")
  message(FATAL_ERROR "JSON: query rows not measured")
endif()
string(JSON n LENGTH "${doc}" query results)
math(EXPR last "${n} - 1")
set(seen "")
foreach(i RANGE ${last})
  get(path query results ${i} path)
  list(APPEND seen ${path})
  if(path MATCHES "bag_lookup$")
    expect_type("NUMBER" query results ${i} ops_per_sec)
  else()
    foreach(field entries matched seconds rows_per_sec)
      expect_type("NUMBER" query results ${i} ${field})
    endforeach()
  endif()
endforeach()
foreach(path query_select query_select_count query_select_delete
             query_bag_lookup)
  if(NOT path IN_LIST seen)
    message(FATAL_ERROR "JSON: no query row for ${path}")
  endif()
endforeach()

# The remote rows: three nodes in three processes; every cachet row has its
# rate, the message rows their latencies, and no call failed.
get(v remote status)
if(NOT v STREQUAL "measured")
  message(FATAL_ERROR "JSON: remote rows not measured")
endif()
string(JSON n LENGTH "${doc}" remote results)
math(EXPR last "${n} - 1")
set(seen "")
foreach(i RANGE ${last})
  get(path remote results ${i} path)
  list(APPEND seen ${path})
  expect_type("NUMBER" remote results ${i} calls_per_sec)
  get(errors remote results ${i} errors)
  if(NOT errors EQUAL 0)
    message(FATAL_ERROR "JSON: remote row ${path}: ${errors} errors")
  endif()
  if(path MATCHES "_call$|_get_remote$")
    expect_type("NUMBER" remote results ${i} p99_us)
  endif()
endforeach()
foreach(path direct_read local_call remote_call local_pipelined
             remote_pipelined shard_get_direct partitioned_get_local
             partitioned_get_remote partitioned_get_many
             partitioned_get_sequential)
  if(NOT path IN_LIST seen)
    message(FATAL_ERROR "JSON: no remote row for ${path}")
  endif()
endforeach()
message(STATUS "cachet-bench JSON ok: ${OUT}")
