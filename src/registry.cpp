// Named tables (ETS's named_table).
//
// There is one registry per actor system, looked up by the system's address.
// It maps names to weak pointers: it never keeps a table alive, and a name
// whose table died is free again even before the dead entry is erased, which
// lets a restarted owner reclaim its name at once.
#include "cachet/detail/table_core.hpp"

#include <caf/actor_system.hpp>

#include "cachet/errc.hpp"

namespace cachet::detail {

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
