// Ownership of tables, caches and snapshots (detail/resource_core.hpp):
// binding to an owner, retiring on its death, inheritance by an heir,
// give_away, and a restarted owner taking its inherited resource back.
//
// Each owner change bumps the generation and attaches a binding to the new
// owner actor. Bindings on an heir are detached when the resource is taken
// back, so a supervisor that lives through 10 000 restarts does not collect
// 10 000 of them.
//
// owner_gone runs in an actor's exit (a binding) or in a capability's
// destructor, where an exception would terminate the process, so it
// allocates nothing: each owner change prepares the heir's binding and its
// transfer message beforehand, while an allocation can still fail as an
// error of the operation that changes the owner.
#include "cachet/detail/resource_core.hpp"

#include <caf/abstract_actor.hpp>
#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/message_id.hpp>

#include <stdexcept>

#include "cachet/detail/epoch.hpp"
#include "cachet/detail/registry.hpp"
#include "cachet/errc.hpp"

namespace cachet::detail {

namespace {

/// Token subtype of bindings ('cach'), apart from CAF's own (0..3).
constexpr std::size_t binding_token = 0x63616368;

/// Runs owner_gone(gen) when the actor it is attached to terminates. It
/// holds the resource, as ETS's owner does: an heir that inherited a table
/// (or an actor it was given to) keeps it alive without holding a handle.
class binding : public caf::attachable {
public:
  binding(std::shared_ptr<resource_core> core, std::uint64_t gen)
    : core_(std::move(core)), gen_(gen) {
    // nop
  }

  void actor_exited(const caf::error&, caf::execution_unit*) override {
    core_->owner_gone(gen_);
  }

  bool matches(const token& what) override {
    return what.subtype == binding_token && what.ptr == core_.get();
  }

private:
  std::shared_ptr<resource_core> core_;
  std::uint64_t gen_;
};

/// Attaches `b` to `owner`. A binding runs as its actor terminates, whatever
/// the reason, and before CAF notifies the monitors and links that existed
/// before it (attachables run newest first); if the actor has terminated
/// already, it runs now.
void attach(caf::abstract_actor& owner, std::unique_ptr<caf::attachable> b) {
  owner.attach(std::move(b));
}

caf::error invalid_owner(const char* why) {
  return caf::make_error(errc::invalid_owner, why);
}

} // namespace

resource_core::resource_core(ownership_options opts,
                             std::type_index type)
  : name_(std::move(opts.name)),
    mode_(opts.mode),
    type_(type),
    heir_(std::move(opts.heir)),
    heir_data_(std::move(opts.heir_data)) {
  // nop
}

resource_core::~resource_core() {
  // nop
}

caf::actor_addr resource_core::owner() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return owner_;
}

std::string resource_core::name() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return name_;
}

std::shared_ptr<registry> resource_core::listed_in() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return registry_;
}

caf::error resource_core::register_name(caf::actor_system& sys) {
  // Only a name needs a configured system; anonymous resources of one
  // that is not stay unlisted.
  auto reg = name_.empty() ? registry_if(sys) : registry_of(sys);
  if (!reg)
    return caf::none;
  auto self = shared_from_this();
  if (!name_.empty())
    if (auto err = reg->add(name_, self))
      return err;
  reg->track(self);
  std::lock_guard<std::mutex> guard{mtx_};
  registry_ = std::move(reg);
  return caf::none;
}

caf::error resource_core::rename(const std::string& to) {
  if (to.empty())
    return caf::make_error(errc::invalid_argument,
                           "rename to an empty name");
  auto self = shared_from_this();
  // One rename at a time per resource; the registry moves the name in one
  // step for lookups.
  std::lock_guard<std::mutex> renaming{rename_mtx_};
  std::string from;
  std::shared_ptr<registry> reg;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (retired_)
      return caf::make_error(errc::table_gone);
    from = name_;
    reg = registry_;
  }
  if (!reg)
    throw std::logic_error("cachet: call cachet::configure(cfg) on the "
                           "config before creating the actor system");
  if (auto err = reg->rename(from, to, self))
    return err;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!retired_) {
      name_ = to;
      return caf::none;
    }
  }
  // Retired meanwhile, after freeing the old name: free the new one too.
  reg->remove(to, this);
  return caf::make_error(errc::table_gone);
}

bool resource_core::info(table_info& out) const {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    out.name = name_;
    out.owner = owner_;
  }
  out.mode = mode_;
  out.heir = heir_;
  return describe(out);
}

resource_core::handoff
resource_core::prepare_handoff(std::uint64_t next,
                               const caf::actor_addr& from) {
  handoff result;
  if (!heir_ || heir_ == from)
    return result; // no heir, or the heir holds it: nobody to pass it to
  result.binding = std::make_unique<binding>(shared_from_this(), next);
  result.note = caf::make_mailbox_element(nullptr, caf::make_message_id(), {},
                                          transfer_message(next, from,
                                                           heir_data_));
  return result;
}

std::uint64_t resource_core::bind(caf::abstract_actor& owner) {
  // The first owner: nobody else knows the resource yet.
  auto gen = generation() + 1;
  auto kit = prepare_handoff(gen + 1, owner.address());
  auto own = std::make_unique<binding>(shared_from_this(), gen);
  {
    std::lock_guard<std::mutex> guard{mtx_};
    gen_.store(gen, std::memory_order_release);
    owner_ = owner.address();
    claimed_gen_ = gen;
    handoff_ = std::move(kit);
  }
  attach(owner, std::move(own));
  return gen;
}

void resource_core::owner_gone(std::uint64_t gen) noexcept {
  auto self = shared_from_this(); // retire may drop the last other reference
  caf::actor heir;
  handoff kit;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (retired_ || gen != gen_.load(std::memory_order_relaxed))
      return; // ownership moved on, or the resource is gone already
    if (heir_ && heir_ != owner_ && handoff_.binding)
      heir = caf::actor_cast<caf::actor>(heir_);
    if (heir) {
      kit = std::move(handoff_);
      gen_.store(gen + 1, std::memory_order_release);
      owner_ = heir_;
    }
  }
  if (!heir) {
    retire();
    return;
  }
  // If the heir is dead already, its binding fires at once and retires.
  attach(*caf::actor_cast<caf::abstract_actor*>(heir), std::move(kit.binding));
  try {
    heir->enqueue(std::move(kit.note), nullptr);
  } catch (...) {
    // CAF could not queue the note: the heir owns the resource untold, and
    // a restarted owner can still take it back.
  }
  owner_changed();
}

bool resource_core::held_by(const caf::actor_addr& heir) const {
  std::lock_guard<std::mutex> guard{mtx_};
  return !retired_ && heir && heir == heir_ && owner_ == heir_;
}

std::optional<std::uint64_t>
resource_core::reclaim(caf::abstract_actor& claimant,
                       const caf::actor_addr& heir) {
  if (!held_by(heir))
    return std::nullopt;
  auto seen = generation();
  auto gen = seen + 1;
  auto kit = prepare_handoff(gen + 1, claimant.address());
  auto own = std::make_unique<binding>(shared_from_this(), gen);
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (retired_ || owner_ != heir_
        || gen_.load(std::memory_order_relaxed) != seen)
      return std::nullopt; // the heir exited or gave it away meanwhile
    gen_.store(gen, std::memory_order_release);
    owner_ = claimant.address();
    claimed_gen_ = gen;
    handoff_ = std::move(kit);
  }
  attach(claimant, std::move(own));
  if (auto h = caf::actor_cast<caf::actor>(heir))
    caf::actor_cast<caf::abstract_actor*>(h)->detach(
      caf::attachable::token{binding_token, this});
  owner_changed();
  return gen;
}

caf::error resource_core::give_away(std::uint64_t gen, const caf::actor& to,
                                    caf::message data) {
  if (!to)
    return invalid_owner("give_away to an invalid actor");
  auto* dest = caf::actor_cast<caf::abstract_actor*>(to);
  if (dest->getf(caf::abstract_actor::is_cleaned_up_flag))
    return invalid_owner("give_away to a dead actor");
  caf::actor_addr from;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (retired_)
      return caf::make_error(errc::table_gone);
    if (gen != gen_.load(std::memory_order_relaxed))
      return caf::make_error(errc::access_denied);
    if (to.address() == owner_)
      return invalid_owner("give_away to the current owner");
    if (to.node() != owner_.node())
      return invalid_owner("give_away to an actor on another node");
    from = owner_;
  }
  auto next = gen + 1;
  auto note = caf::make_mailbox_element(nullptr, caf::make_message_id(), {},
                                        transfer_message(next, from, data));
  auto kit = prepare_handoff(next + 1, to.address());
  auto own = std::make_unique<binding>(shared_from_this(), next);
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (retired_)
      return caf::make_error(errc::table_gone);
    if (gen != gen_.load(std::memory_order_relaxed))
      return caf::make_error(errc::access_denied);
    gen_.store(next, std::memory_order_release);
    owner_ = to.address();
    handoff_ = std::move(kit);
  }
  // If `to` died since the check, its binding fires at once: the resource
  // passes to its heir or retires, as in ETS.
  attach(*dest, std::move(own));
  dest->enqueue(std::move(note), nullptr);
  owner_changed();
  return caf::none;
}

bool resource_core::claim(std::uint64_t gen) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (retired_ || gen != gen_.load(std::memory_order_relaxed)
      || claimed_gen_ == gen)
    return false;
  claimed_gen_ = gen;
  return true;
}

void resource_core::retire() noexcept {
  auto self = shared_from_this(); // the handoff below may hold the last one
  std::shared_ptr<registry> reg;
  handoff kit;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (retired_)
      return;
    retired_ = true;
    reg.swap(registry_);
    kit = std::move(handoff_);
  }
  retire_storage();
  // A dead table can be large and nothing else may retire on this thread for
  // a while: free it now unless a reader is still inside.
  detail::reclaim();
  if (reg) {
    reg->remove(name(), this);
    reg->untrack(this);
  }
}

} // namespace cachet::detail
