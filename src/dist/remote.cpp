// Remote lookups of owners by name, with their type checks. See
// include/cachet/dist/remote.hpp.
#include "cachet/dist/remote.hpp"

#include <caf/actor_system.hpp>
#include <caf/uniform_type_info_map.hpp>

#include "cachet/blocking_caller.hpp"
#include "cachet/detail/registry.hpp"
#include "cachet/errc.hpp"

namespace cachet::dist::detail {

namespace {

/// CAF's name for `t` in a running system; empty if it has none.
std::string system_type_name(caf::actor_system& sys, type_ref t) {
  auto& name = sys.types().portable_name(t.nr, t.ti);
  return name == sys.types().default_type_name() ? std::string{} : name;
}

std::string signature(const char* kind, const std::string& key,
                      const std::string& value) {
  return std::string{kind} + "<" + key + "," + value + ">";
}

/// Every type of `t` that `sys` cannot put in a message, as an error.
caf::error check_registered(caf::actor_system& sys, const expected_type& t) {
  for (auto& w : t.wire)
    if (system_type_name(sys, w).empty())
      return caf::make_error(errc::type_not_registered,
                             std::string{"not registered on this node: "}
                               + w.ti->name()
                               + " (see cachet::dist::add_table_types)");
  return caf::none;
}

caf::expected<caf::strong_actor_ptr> ask(caf::actor_system& sys,
                                         const caf::actor& peer,
                                         const std::string& name,
                                         const std::string& sig,
                                         caf::timespan timeout) {
  blocking_caller caller{sys};
  return caller.call<caf::strong_actor_ptr>(peer, timeout, whereis_atom_v,
                                            name, sig);
}

} // namespace

caf::expected<std::string> signature_of(caf::actor_system& sys,
                                        const expected_type& t) {
  if (auto err = check_registered(sys, t))
    return err;
  return signature(t.kind, system_type_name(sys, t.key),
                   system_type_name(sys, t.value));
}

std::string config_type_name(const caf::actor_system_config& cfg,
                             type_ref t) {
  if (t.nr != 0)
    return caf::numbered_type_names[t.nr - 1];
  auto i = cfg.type_names_by_rtti.find(std::type_index(*t.ti));
  return i != cfg.type_names_by_rtti.end() ? i->second : std::string{};
}

caf::expected<caf::strong_actor_ptr>
find_owner(caf::actor_system& sys, const std::string& name,
           const std::string& sig) {
  auto core = cachet::detail::registry_of(sys)->find(name);
  if (!core || !core->alive())
    return caf::make_error(errc::no_such_table, "no table named " + name);
  auto held = core->held_types();
  auto key = system_type_name(sys, held.key);
  auto value = system_type_name(sys, held.value);
  if ((key.empty() && held.key.ti != &typeid(void)) || value.empty())
    return caf::make_error(errc::type_not_registered,
                           "the types of " + name
                             + " are not registered on its node (see "
                               "cachet::dist::add_table_types)");
  auto mine = signature(held.kind, key, value);
  if (mine != sig)
    return caf::make_error(errc::wrong_type,
                           name + " holds " + mine + ", not " + sig);
  auto owner = caf::actor_cast<caf::strong_actor_ptr>(core->owner());
  if (!owner)
    return caf::make_error(errc::no_such_table, "no table named " + name);
  return owner;
}

caf::expected<caf::strong_actor_ptr>
whereis_owner(const node& n, const std::string& node_name,
              const std::string& name, const expected_type& t,
              caf::timespan timeout) {
  auto& sys = n.actor().home_system();
  auto sig = signature_of(sys, t);
  if (!sig)
    return std::move(sig.error());
  if (node_name == n.name())
    return find_owner(sys, name, *sig);
  auto peer = n.peer(node_name);
  if (!peer)
    return caf::make_error(errc::no_such_node,
                           "no live node named " + node_name);
  return ask(sys, peer, name, *sig, timeout);
}

caf::expected<caf::strong_actor_ptr>
whereis_owner_anywhere(const node& n, const std::string& name,
                       const expected_type& t, caf::timespan timeout) {
  auto& sys = n.actor().home_system();
  auto sig = signature_of(sys, t);
  if (!sig)
    return std::move(sig.error());
  auto found = find_owner(sys, name, *sig);
  if (found || found.error() != errc::no_such_table)
    return found;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto& m : n.members()) {
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= caf::timespan{0})
      return caf::make_error(errc::call_timeout);
    auto peer = n.peer(m.name);
    if (!peer)
      continue; // went down meanwhile
    auto r = ask(sys, peer, name, *sig,
                 std::chrono::duration_cast<caf::timespan>(left));
    if (r || r.error() != errc::no_such_table)
      return r;
  }
  return caf::make_error(errc::no_such_table,
                         "no live node has a table named " + name);
}

} // namespace cachet::dist::detail
