// A table's lifetime and ownership: binding to an owner, retiring on its
// death, inheritance by an heir, give_away, and a restarted owner taking its
// inherited table back.
//
// Each owner change bumps the table's generation and attaches a binding to
// the new owner actor; the binding remembers its generation, so an old
// binding firing late (the heir exiting long after a restarted owner took
// the table back) finds a newer generation and does nothing. Bindings on an
// heir are detached when the table is taken back, so a supervisor that lives
// through 10 000 restarts does not collect 10 000 of them.
#include "cachet/detail/table_core.hpp"

#include <caf/abstract_actor.hpp>
#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/attachable.hpp>

#include "cachet/detail/epoch.hpp"
#include <caf/sec.hpp>

#include "cachet/errc.hpp"

namespace cachet::detail {

namespace {

/// Token subtype of table bindings ('cach'), apart from CAF's own (0..3).
constexpr std::size_t binding_token = 0x63616368;

/// Runs owner_gone(gen) when the actor it is attached to terminates. It
/// holds the table, as ETS's owner does: an heir that inherited a table (or
/// an actor it was given to) keeps it alive without holding a handle.
class binding : public caf::attachable {
public:
  binding(std::shared_ptr<table_core_base> core, std::uint64_t gen)
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
  std::shared_ptr<table_core_base> core_;
  std::uint64_t gen_;
};

} // namespace

table_core_base::~table_core_base() {
  // nop
}

caf::actor_addr table_core_base::owner() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return owner_;
}

caf::error table_core_base::register_name(caf::actor_system& sys) {
  if (name_.empty())
    return caf::none;
  auto reg = registry::of(sys);
  if (auto err = reg->add(name_, shared_from_this()))
    return err;
  std::lock_guard<std::mutex> guard{mtx_};
  registry_ = std::move(reg);
  return caf::none;
}

void table_core_base::attach_binding(caf::abstract_actor& owner,
                                     std::uint64_t gen) {
  // A binding runs as its actor terminates, whatever the reason, and before
  // CAF notifies the monitors and links that existed before it (attachables
  // run newest first). If the actor has terminated already, it runs now.
  owner.attach(std::make_unique<binding>(shared_from_this(), gen));
}

std::uint64_t table_core_base::bind(caf::abstract_actor& owner) {
  std::uint64_t gen;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    gen = gen_.load(std::memory_order_relaxed) + 1;
    gen_.store(gen, std::memory_order_release);
    owner_ = owner.address();
    claimed_gen_ = gen;
  }
  attach_binding(owner, gen);
  return gen;
}

void table_core_base::owner_gone(std::uint64_t gen) noexcept {
  caf::actor heir;
  caf::actor_addr from;
  std::uint64_t next = 0;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (gen != gen_.load(std::memory_order_relaxed) || !alive())
      return; // ownership moved on, or the table is gone already
    if (heir_ && heir_ != owner_)
      heir = caf::actor_cast<caf::actor>(heir_);
    if (heir) {
      from = owner_;
      next = gen + 1;
      gen_.store(next, std::memory_order_release);
      owner_ = heir_;
    }
  }
  if (!heir) {
    retire();
    return;
  }
  // If the heir is dead already, its binding fires at once and retires.
  attach_binding(*caf::actor_cast<caf::abstract_actor*>(heir), next);
  send_transfer(heir, next, from, heir_data_);
}

std::optional<std::uint64_t>
table_core_base::reclaim(caf::abstract_actor& claimant,
                         const caf::actor_addr& heir) {
  std::uint64_t gen;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!heir || heir != heir_ || owner_ != heir_ || !alive())
      return std::nullopt;
    gen = gen_.load(std::memory_order_relaxed) + 1;
    gen_.store(gen, std::memory_order_release);
    owner_ = claimant.address();
    claimed_gen_ = gen;
  }
  attach_binding(claimant, gen);
  if (auto h = caf::actor_cast<caf::actor>(heir))
    caf::actor_cast<caf::abstract_actor*>(h)->detach(
      caf::attachable::token{binding_token, this});
  return gen;
}

caf::error table_core_base::give_away(std::uint64_t gen, const caf::actor& to,
                                      caf::message data) {
  if (!to)
    return caf::make_error(caf::sec::invalid_argument);
  caf::actor_addr from;
  std::uint64_t next;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!alive())
      return caf::make_error(errc::table_gone);
    if (gen != gen_.load(std::memory_order_relaxed))
      return caf::make_error(errc::access_denied);
    if (to.address() == owner_)
      return caf::make_error(caf::sec::invalid_argument,
                             "give_away to the current owner");
    from = owner_;
    next = gen + 1;
    gen_.store(next, std::memory_order_release);
    owner_ = to.address();
  }
  attach_binding(*caf::actor_cast<caf::abstract_actor*>(to), next);
  send_transfer(to, next, from, data);
  return caf::none;
}

bool table_core_base::claim(std::uint64_t gen) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (gen != gen_.load(std::memory_order_relaxed) || claimed_gen_ == gen
      || !alive())
    return false;
  claimed_gen_ = gen;
  return true;
}

void table_core_base::retire() noexcept {
  retire_engine();
  // A dead table can be large and nothing else may retire on this thread for
  // a while: free it now unless a reader is still inside.
  detail::reclaim();
  std::shared_ptr<registry> reg;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    reg.swap(registry_);
  }
  if (reg)
    reg->remove(name_, this);
}

} // namespace cachet::detail
