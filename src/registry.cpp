// Named tables (ETS's named_table) and the non-template half of a table's
// lifetime: binding to an owner and retiring on its death.
//
// There is one registry per actor system, looked up by the system's address.
// It maps names to weak pointers: it never keeps a table alive, and a name
// whose table died is free again even before the dead entry is erased, which
// lets a restarted owner reclaim its name at once.
#include "cachet/detail/table_core.hpp"

#include <caf/abstract_actor.hpp>
#include <caf/actor_system.hpp>

#include "cachet/errc.hpp"

namespace cachet::detail {

table_core_base::~table_core_base() {
  // nop
}

caf::actor_addr table_core_base::owner() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return owner_;
}

caf::error
table_core_base::register_name(caf::actor_system& sys,
                               const std::shared_ptr<table_core_base>& self) {
  if (name_.empty())
    return caf::none;
  auto reg = registry::of(sys);
  if (auto err = reg->add(name_, self))
    return err;
  std::lock_guard<std::mutex> guard{mtx_};
  registry_ = std::move(reg);
  return caf::none;
}

void table_core_base::bind(caf::abstract_actor& owner,
                           const std::shared_ptr<table_core_base>& self) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    owner_ = owner.address();
  }
  // Runs as the owner terminates, whatever the reason, and before CAF
  // notifies monitors and links of actors that existed before this call
  // (attachables run newest first): a supervisor that restarts the owner on
  // its DOWN message finds the name free.
  owner.attach_functor([core = self] { core->retire(); });
}

void table_core_base::retire() noexcept {
  retire_engine();
  // A dead table can be large and nothing else may retire on this thread for
  // a while: free it now unless a reader is still inside.
  reclaim();
  std::shared_ptr<registry> reg;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    reg.swap(registry_);
  }
  if (reg)
    reg->remove(name_, this);
}

std::shared_ptr<registry> registry::of(caf::actor_system& sys) {
  static std::mutex mtx;
  static std::unordered_map<const caf::actor_system*, std::shared_ptr<registry>>
    all;
  std::lock_guard<std::mutex> guard{mtx};
  auto& reg = all[&sys];
  if (!reg)
    reg = std::make_shared<registry>();
  return reg;
}

caf::error registry::add(const std::string& name,
                         const std::shared_ptr<table_core_base>& core) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& entry = tables_[name];
  if (auto other = entry.lock(); other && other->alive())
    return caf::make_error(errc::name_taken);
  entry = core;
  return caf::none;
}

void registry::remove(const std::string& name, const table_core_base* core) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = tables_.find(name);
  if (i == tables_.end())
    return;
  auto current = i->second.lock();
  if (!current || current.get() == core)
    tables_.erase(i);
}

std::shared_ptr<table_core_base>
registry::find(const std::string& name) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = tables_.find(name);
  if (i == tables_.end())
    return nullptr;
  auto core = i->second.lock();
  return core && core->alive() ? core : nullptr;
}

} // namespace cachet::detail
