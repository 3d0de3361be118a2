// Transactions (redis-server 7.0's multi.c as seen by clients): MULTI,
// EXEC, DISCARD, WATCH, UNWATCH. A connection's queue lives in its
// session; EXEC runs it isolated (transactions.hpp says how).
#include "call.hpp"

namespace cachet::redis {

void end_transaction(server_env& env, session& sess) {
  sess.in_multi = false;
  sess.multi_refused = false;
  sess.queued.clear();
  if (sess.record != nullptr)
    sess.record->multi_mem.store(0, std::memory_order_relaxed);
  env.watches.unwatch(sess.watch_id);
}

std::string run_transaction(store_table& tab, server_env& env,
                            std::uint64_t watch_id, std::uint64_t client_id,
                            const std::vector<std::vector<std::string>>& queued,
                            int proto) {
  std::string out;
  if (env.watches.dirty(watch_id, now_ms())) {
    reply::null_array(out, proto == 3);
    return out;
  }
  reply::array(out, static_cast<std::int64_t>(queued.size()));
  // The queue was admitted (AUTH included) as it was built.
  session admitted;
  admitted.id = client_id; // whose commands the slow log shows
  admitted.in_exec = true;
  admitted.proto = proto;
  std::vector<std::string_view> argv;
  for (auto& cmd : queued) {
    argv.assign(cmd.begin(), cmd.end());
    execute(&tab, env, admitted, argv, out);
  }
  return out;
}

void cmd_multi(call& c) {
  if (c.sess.in_multi)
    return c.error("ERR MULTI calls can not be nested");
  c.sess.in_multi = true;
  reply::ok(c.out);
}

void cmd_discard(call& c) {
  if (!c.sess.in_multi)
    return c.error("ERR DISCARD without MULTI");
  end_transaction(c.env, c.sess);
  reply::ok(c.out);
}

void cmd_exec(call& c) {
  if (!c.sess.in_multi)
    return c.error("ERR EXEC without MULTI");
  if (c.sess.multi_refused) {
    end_transaction(c.env, c.sess);
    return c.error(
      "EXECABORT Transaction discarded because of previous errors.");
  }
  if (c.table == nullptr) {
    // Message mode: the owner runs it, one message, nothing in between.
    c.res.forward_exec = true;
    return;
  }
  c.env.gate.isolated(gate_slot, [&] {
    c.out += run_transaction(c.tab(), c.env, c.sess.watch_id, c.sess.id,
                             c.sess.queued, c.sess.proto);
  });
  end_transaction(c.env, c.sess);
}

void watch_keys(store_table& tab, server_env& env, std::uint64_t id,
                const std::vector<std::string_view>& keys) {
  auto now = now_ms();
  for (auto key : keys) {
    std::int64_t expire_at = 0;
    (void) tab.visit(key, [&](const value& v) {
      if (!expired(v, now))
        expire_at = v.expire_at;
    });
    env.watches.watch(id, key, expire_at);
  }
}

void cmd_watch(call& c) {
  if (c.sess.in_multi)
    return c.error("ERR WATCH inside MULTI is not allowed");
  if (c.sess.watch_id == 0)
    c.sess.watch_id = c.env.watches.new_id();
  if (c.table == nullptr) {
    // Message mode: the owner reads the keys' expiries.
    c.res.forward_watch = true;
    return;
  }
  watch_keys(c.tab(), c.env, c.sess.watch_id,
             {c.argv.begin() + 1, c.argv.end()});
  reply::ok(c.out);
}

void cmd_unwatch(call& c) {
  c.env.watches.unwatch(c.sess.watch_id);
  reply::ok(c.out);
}

} // namespace cachet::redis
