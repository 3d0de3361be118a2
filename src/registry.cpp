// cachet's per-actor-system state (detail/registry.hpp) and `configure`.
//
// The state is a CAF actor-system module, so the system owns it: created in
// the system's constructor, destroyed in its destructor after every actor is
// done. CAF 0.17.6 keeps modules in an array indexed by a fixed enum and
// offers no slot for third-party modules; cachet takes `network_manager`,
// the slot that CAF 0.17 reserves for libcaf_net, which only CAF 0.18 and
// later ship, and finds its module again through that slot's accessor.
//
// The registry maps names to weak pointers: it never keeps a resource
// alive, and a name whose resource died is free again at once.
#include "cachet/detail/registry.hpp"

#include <atomic>
#include <stdexcept>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/execution_unit.hpp>
#include <caf/message.hpp>

#include "cachet/configure.hpp"
#include "cachet/detail/lending.hpp"
#include "cachet/detail/resource_core.hpp"
#include "cachet/errc.hpp"

namespace cachet::detail {

namespace {

class system_module final : public caf::actor_system::module {
public:
  static caf::actor_system::module* make(caf::actor_system&,
                                         caf::detail::type_list<>) {
    return new system_module;
  }

  void start() override {
    // nop
  }

  void stop() override {
    // nop
  }

  void init(caf::actor_system_config&) override {
    // nop
  }

  id_t id() const override {
    return network_manager; // see the top of this file
  }

  void* subtype_ptr() override {
    return this;
  }

  const std::shared_ptr<registry> names = std::make_shared<registry>();

  std::mutex unit_mtx;
  std::unique_ptr<caf::execution_unit> units[2]; // guarded by unit_mtx

  std::atomic<caf::execution_unit*> network_unit{nullptr};
};

system_module& module_of(caf::actor_system& sys) {
  if (!sys.has_network_manager())
    throw std::logic_error("cachet: call cachet::configure(cfg) on the "
                           "config before creating the actor system");
  // network_manager() returns what subtype_ptr() returned: the module.
  return *reinterpret_cast<system_module*>(&sys.network_manager());
}

} // namespace

caf::error registry::add(const std::string& name,
                         const std::shared_ptr<resource_core>& core) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& entry = names_[name];
  if (auto other = entry.lock(); other && other->alive())
    return caf::make_error(errc::name_taken);
  entry = core;
  return caf::none;
}

void registry::remove(const std::string& name,
                      const resource_core* core) noexcept {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = names_.find(name);
  if (i == names_.end())
    return;
  auto current = i->second.lock();
  if (!current || current.get() == core)
    names_.erase(i);
}

std::shared_ptr<resource_core> registry::find(const std::string& name) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = names_.find(name);
  if (i == names_.end())
    return nullptr;
  auto core = i->second.lock();
  return core && core->alive() ? core : nullptr;
}

caf::error registry::rename(const std::string& from, const std::string& to,
                            const std::shared_ptr<resource_core>& core) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& entry = names_[to];
  if (auto other = entry.lock();
      other && other != core && other->alive())
    return caf::make_error(errc::name_taken);
  entry = core;
  if (!from.empty() && from != to) {
    auto i = names_.find(from);
    if (i != names_.end() && i->second.lock() == core)
      names_.erase(i);
  }
  return caf::none;
}

void registry::track(const std::shared_ptr<resource_core>& core) {
  std::lock_guard<std::mutex> guard{mtx_};
  all_.emplace(core.get(), core);
}

void registry::untrack(const resource_core* core) noexcept {
  std::lock_guard<std::mutex> guard{mtx_};
  all_.erase(core);
}

std::vector<std::shared_ptr<resource_core>> registry::all() const {
  std::vector<std::shared_ptr<resource_core>> out;
  std::lock_guard<std::mutex> guard{mtx_};
  out.reserve(all_.size());
  for (auto& [ptr, weak] : all_)
    if (auto core = weak.lock(); core && core->alive())
      out.push_back(std::move(core));
  return out;
}

void registry::add_field(std::type_index type, const std::string& name,
                         std::shared_ptr<const void> fn) {
  std::lock_guard<std::mutex> guard{mtx_};
  fields_[{type, name}] = std::move(fn);
}

std::shared_ptr<const void> registry::field(std::type_index type,
                                            const std::string& name) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = fields_.find({type, name});
  return i != fields_.end() ? i->second : nullptr;
}

std::shared_ptr<registry> registry_of(caf::actor_system& sys) {
  return module_of(sys).names;
}

std::shared_ptr<registry> registry_if(caf::actor_system& sys) {
  if (!sys.has_network_manager())
    return nullptr;
  return module_of(sys).names;
}

caf::execution_unit&
lent_unit_of(caf::actor_system& sys, unit_slot slot,
             const std::function<std::unique_ptr<caf::execution_unit>()>& make) {
  auto& mod = module_of(sys);
  std::lock_guard<std::mutex> guard{mod.unit_mtx};
  auto& unit = mod.units[static_cast<std::size_t>(slot)];
  if (!unit)
    unit = make();
  return *unit;
}

std::atomic<caf::execution_unit*>& network_unit_of(caf::actor_system& sys) {
  return module_of(sys).network_unit;
}

} // namespace cachet::detail

namespace cachet {

std::vector<table_info> all_tables(caf::actor_system& sys) {
  std::vector<table_info> out;
  auto reg = detail::registry_if(sys);
  if (!reg)
    return out;
  for (auto& core : reg->all()) {
    table_info x;
    if (core->info(x))
      out.push_back(std::move(x));
  }
  return out;
}

void configure(caf::actor_system_config& cfg) {
  // (CAF 0.17.6's add_error_category<T> does not compile: pass a renderer.)
  cfg.add_error_category(caf::atom("cachet"),
                         [](std::uint8_t code, caf::atom_value,
                            const caf::message& context) {
                           auto str = "cachet: " + to_string(errc{code});
                           if (!context.empty())
                             str += " " + caf::to_string(context);
                           return str;
                         });
  cfg.load<detail::system_module>();
}

} // namespace cachet
