#include "persist.hpp"

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <future>
#include <iostream>
#include <memory>
#include <new>
#include <thread>

#include <sys/mman.h>

#include <cachet/detail/epoch.hpp>
#include <cachet/dump.hpp>

#include "call.hpp"

namespace cachet::redis {

// -- save points ----------------------------------------------------------------

bool parse_save_points(std::string_view text, std::vector<save_point>& out) {
  std::vector<std::string_view> words;
  for (std::size_t i = 0; i < text.size();) {
    auto end = text.find(' ', i);
    if (end == std::string_view::npos)
      end = text.size();
    if (end > i)
      words.push_back(text.substr(i, end - i));
    i = end + 1;
  }
  if (words.size() % 2 != 0)
    return false;
  std::vector<save_point> points;
  for (std::size_t i = 0; i < words.size(); i += 2) {
    save_point p{};
    if (!parse_ll(words[i], p.seconds) || !parse_ll(words[i + 1], p.changes)
        || p.seconds < 1 || p.changes < 0)
      return false;
    points.push_back(p);
  }
  out = std::move(points);
  return true;
}

std::string save_points_text(const std::vector<save_point>& points) {
  std::string text;
  for (auto& p : points) {
    if (!text.empty())
      text += ' ';
    text += std::to_string(p.seconds) + ' ' + std::to_string(p.changes);
  }
  return text;
}

// -- persistence ----------------------------------------------------------------

persistence::~persistence() {
  if (writer_.joinable())
    writer_.join();
}

std::string persistence::dir() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return dir_;
}

std::string persistence::dbfilename() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return dbfilename_;
}

std::vector<save_point> persistence::save_points() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return points_;
}

void persistence::set_dir(std::string dir) {
  std::lock_guard<std::mutex> guard{mtx_};
  dir_ = std::move(dir);
}

void persistence::set_dbfilename(std::string name) {
  std::lock_guard<std::mutex> guard{mtx_};
  dbfilename_ = std::move(name);
}

void persistence::set_save_points(std::vector<save_point> points) {
  std::lock_guard<std::mutex> guard{mtx_};
  points_ = std::move(points);
}

std::string persistence::path() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return dir_ + "/" + dbfilename_;
}

bool persistence::try_claim() {
  std::lock_guard<std::mutex> guard{mtx_};
  if (busy_)
    return false;
  busy_ = true;
  return true;
}

void persistence::claim() {
  std::unique_lock<std::mutex> guard{mtx_};
  idle_.wait(guard, [this] { return !busy_; });
  busy_ = true;
}

void persistence::release() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    busy_ = false;
  }
  idle_.notify_all();
}

void persistence::finish(const caf::expected<std::uint64_t>& written,
                         std::int64_t dirty, bool background) {
  auto target = path();
  if (written) {
    last_save.store(now_ms() / 1000);
    dirty_at_save.store(dirty);
    saves.fetch_add(1);
    std::cout << "cachet-redis: saved " << *written << " keys to " << target
              << std::endl;
  } else {
    std::cout << "cachet-redis: cannot save to " << target << ": "
              << (render ? render(written.error())
                         : to_string(written.error()))
              << std::endl;
  }
  if (background) {
    last_ok.store(static_cast<bool>(written));
    last_seconds.store((now_ms() - started_ms) / 1000);
    background_.store(false, std::memory_order_release);
  }
  working_bytes.store(0);
  release();
}

void persistence::begin_loading(std::int64_t total_bytes) noexcept {
  loading_started.store(now_ms() / 1000);
  loading_total_bytes.store(total_bytes);
  loading_loaded_bytes.store(0);
  loaded_keys.store(0);
  loaded_expired.store(0);
  loading_.store(true, std::memory_order_release);
}

void persistence::end_loading() noexcept {
  loading_.store(false, std::memory_order_release);
}

void persistence::background(std::function<void()> job) {
  // The claim was free, so the last writer is done or about to return.
  if (writer_.joinable())
    writer_.join();
  started_ms.store(now_ms());
  last_try.store(now_ms() / 1000);
  background_.store(true, std::memory_order_release);
  writer_ = std::thread{std::move(job)};
}

// -- the image --------------------------------------------------------------------

namespace {

/// Runs `f` while no command runs: a command's own thread in direct mode
/// holds the exec gate alone (as EXEC does); the owner runs every command
/// in message mode, so nothing else can; the owner in direct mode (save
/// points, SIGTERM) takes the gate with no slot of its own.
template <class F>
void isolated(server_env& env, F&& f) {
  if (gate_slot != nullptr)
    env.gate.isolated(gate_slot, f);
  else if (env.config.message_mode)
    f();
  else
    env.gate.exclusive(nullptr, f);
}

/// Memory for the image's list that the kernel may back with 2 MB pages
/// (MADV_HUGEPAGE; Linux's transparent huge pages, unless set to never).
/// The list is filled while no command runs, and each first write of a
/// 4 KB page is a fault: for a 1M-key list (24 MB) they took 70 of a
/// save's 97 ms pause on the VM. Lists under 2 MB use malloc as they were.
template <class T>
struct huge_page_allocator {
  using value_type = T;
  static constexpr std::size_t huge = std::size_t{2} << 20;

  huge_page_allocator() = default;
  template <class U>
  huge_page_allocator(const huge_page_allocator<U>&) noexcept {
    // nop
  }

  /// What `n` elements take: whole 2 MB pages from 2 MB on.
  static std::size_t bytes_for(std::size_t n) noexcept {
    auto bytes = n * sizeof(T);
    return bytes < huge ? bytes : (bytes + huge - 1) / huge * huge;
  }

  T* allocate(std::size_t n) {
    auto bytes = bytes_for(n);
    void* p = nullptr;
    if (bytes < huge) {
      p = std::malloc(bytes);
    } else {
      p = std::aligned_alloc(huge, bytes);
      if (p != nullptr)
        madvise(p, bytes, MADV_HUGEPAGE); // only advice: a refusal is fine
    }
    if (p == nullptr)
      throw std::bad_alloc{};
    return static_cast<T*>(p);
  }

  void deallocate(T* p, std::size_t) noexcept {
    std::free(p);
  }

  friend bool operator==(const huge_page_allocator&,
                         const huge_page_allocator&) noexcept {
    return true;
  }
  friend bool operator!=(const huge_page_allocator&,
                         const huge_page_allocator&) noexcept {
    return false;
  }
};

/// The store's live entries at one instant: views of the table's entries
/// (valid while the thread that took them stays pinned), hashes copied.
struct image {
  using entry = std::pair<std::string_view, const value*>;
  std::vector<entry, huge_page_allocator<entry>> entries;
  std::deque<value> hashes; // the copies the entries point to
  std::int64_t dirty = 0;   // the server's write count it holds
};

/// What `img` and the dump's write buffer take while a save holds them
/// (persistence::working_bytes).
std::int64_t image_bytes(const image& img) {
  using list = decltype(img.entries);
  auto bytes = list::allocator_type::bytes_for(img.entries.capacity())
               + img.hashes.size() * sizeof(value)
               + detail::dump_writer::chunk_size; // write_entries' buffer
  for (auto& h : img.hashes)
    bytes += h.hash()->memory();
  return static_cast<std::int64_t>(bytes);
}

/// Takes the image on a pinned thread; the caller keeps commands out.
caf::error take_image(store_table& tab, server_env& env, image& img) {
  img.dirty = env.stats.sum(&thread_counters::dirty);
  auto now = now_ms();
  if (auto n = tab.size())
    img.entries.reserve(*n);
  auto walked = tab.for_each([&](std::string_view k, const value& v) {
    if (expired(v, now))
      return;
    if (v.is_string()) {
      img.entries.emplace_back(k, &v);
      return;
    }
    auto& copy = img.hashes.emplace_back(value::string({}, v.expire_at));
    std::shared_lock<std::shared_mutex> guard{v.hash()->mutex()};
    copy.set_hash(v.hash()->clone());
    img.entries.emplace_back(k, &copy);
  });
  return walked ? caf::error{} : std::move(walked.error());
}

/// Writes the image as a dump of the store's table type (file2entries
/// reads it back).
caf::expected<std::uint64_t> write_image(const image& img,
                                         const std::string& path) {
  return detail::write_entries<std::string, value, set<>>(
    path, [&](auto&& visit) -> caf::error {
      // The entries' nodes lie anywhere: ask for those a few on, so that
      // the writes wait on several at once rather than one each.
      constexpr std::size_t ahead = 16;
      auto& es = img.entries;
      for (std::size_t i = 0; i < es.size(); ++i) {
        if (i + ahead < es.size()) {
          __builtin_prefetch(es[i + ahead].first.data());
          __builtin_prefetch(es[i + ahead].second);
        }
        visit(es[i].first, *es[i].second);
      }
      return {};
    });
}

/// Writes `img` (unless taking it failed with `err`), frees it and
/// records the outcome; the save's memory stops counting as its own only
/// once freed.
caf::expected<std::uint64_t> write_and_finish(server_env& env, image& img,
                                              caf::error err,
                                              bool background) {
  auto written = err ? caf::expected<std::uint64_t>{std::move(err)}
                     : write_image(img, env.persist.path());
  auto dirty = img.dirty;
  img = image{};
  env.persist.finish(written, dirty, background);
  return written;
}

/// Starts a BGSAVE; the caller holds the claim. Its thread takes the image
/// while this one keeps commands out, then writes it on its own.
void start_background(store_table& tab, server_env& env) {
  // Shared: the writer may still be inside set_value when this returns.
  auto taken = std::make_shared<std::promise<void>>();
  auto ready = taken->get_future();
  isolated(env, [&] {
    env.persist.background(
      [&env, tab, taken]() mutable {
        detail::epoch_guard pin; // the image's views stay valid
        image img;
        auto err = take_image(tab, env, img);
        env.persist.working_bytes.store(image_bytes(img));
        taken->set_value();
        write_and_finish(env, img, std::move(err), true);
      });
    ready.wait();
  });
}

/// SAVE's work, on the calling thread; the caller holds the claim.
caf::error save_claimed(store_table& tab, server_env& env) {
  detail::epoch_guard pin; // the image's views stay valid until written
  image img;
  caf::error err;
  isolated(env, [&] { err = take_image(tab, env, img); });
  env.persist.working_bytes.store(image_bytes(img));
  auto written = write_and_finish(env, img, std::move(err), false);
  return written ? caf::error{} : written.error();
}

} // namespace

caf::error save_now(store_table& tab, server_env& env) {
  env.persist.claim();
  return save_claimed(tab, env);
}

void save_tick(store_table& tab, server_env& env) {
  auto& p = env.persist;
  if (p.loading())
    return;
  auto now = now_ms() / 1000;
  bool due = p.scheduled.load();
  // As redis: a save point is due once its time has passed with its count
  // of writes made; after a failed BGSAVE, not again for 5 s.
  if (!due && (p.last_ok || now - p.last_try > 5)) {
    auto changes = env.stats.sum(&thread_counters::dirty) - p.dirty_at_save;
    for (auto& point : p.save_points())
      due = due
            || (changes >= point.changes && now - p.last_save > point.seconds);
  }
  if (due && p.try_claim()) {
    p.scheduled.store(false);
    start_background(tab, env);
  }
}

caf::error load_at_start(server_env& env, const std::atomic<bool>& stop) {
  auto& p = env.persist;
  // A shared handle stays valid while the table lives, whoever owns it
  // (an owner's restart hands it to the next through the heir).
  auto tab = whereis<std::string, value>(*env.system, store_name);
  if (!tab)
    return std::move(tab.error());
  auto delay = std::chrono::microseconds{p.key_load_delay_us};
  auto now = now_ms();
  // Each batch goes in as it decodes, as redis loads as it reads: the
  // entries are never all held twice, and INFO shows the file's bytes go
  // by. The checksums hold before the first batch; an entry that still
  // fails to decode stops the server, which saves nothing while loading,
  // so the keys before it are lost with the process and the file stays.
  auto insert = [&](std::vector<std::pair<std::string, value>>& batch,
                    std::uint64_t bytes_left) -> caf::error {
    if (stop.load(std::memory_order_relaxed))
      return caf::make_error(errc::io_error, "the load was stopped");
    auto live = std::remove_if(batch.begin(), batch.end(), [&](auto& e) {
      return expired(e.second, now);
    });
    p.loaded_expired.fetch_add(batch.end() - live);
    batch.erase(live, batch.end());
    auto n = static_cast<std::int64_t>(batch.size());
    if (n > 0)
      if (auto res = tab->insert(std::exchange(batch, {})); !res)
        return std::move(res.error());
    p.loaded_keys.fetch_add(n);
    auto total = p.loading_total_bytes.load();
    p.loading_loaded_bytes.store(
      std::max<std::int64_t>(total - static_cast<std::int64_t>(bytes_left),
                             0));
    if (delay.count() > 0)
      std::this_thread::sleep_for(delay);
    return caf::none;
  };
  // One key at a time when each waits (key-load-delay).
  auto loaded = file2batches<std::string, value>(
    p.path(), delay.count() > 0 ? 1 : 4096, insert);
  if (!loaded)
    return std::move(loaded.error());
  if (env.evict.tracking())
    adopt_keys(*tab, env);
  return caf::none;
}

// -- the commands -------------------------------------------------------------------

void cmd_save(call& c) {
  if (!c.env.persist.try_claim())
    return c.error("ERR Background save already in progress");
  if (save_claimed(c.tab(), c.env))
    return c.error("ERR"); // redis's shared.err; the reason is in the log
  reply::ok(c.out);
}

void cmd_bgsave(call& c) {
  bool schedule = c.argv.size() == 2 && iequals(c.argv[1], "schedule");
  if (c.argv.size() > 1 && !schedule)
    return c.error(syntax_error);
  if (!c.env.persist.try_claim()) {
    if (!schedule)
      return c.error("ERR Background save already in progress");
    c.env.persist.scheduled.store(true);
    return reply::simple(c.out, "Background saving scheduled");
  }
  start_background(c.tab(), c.env);
  reply::simple(c.out, "Background saving started");
}

void cmd_lastsave(call& c) {
  reply::integer(c.out, c.env.persist.last_save.load());
}

// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: redis 7.0's checks; saves
// if asked to, or if save points are set and NOSAVE is not given (a failed
// save stops the shutdown unless FORCE), then ends the process. No reply:
// the connection closes, as redis's does.
void cmd_shutdown(call& c) {
  bool nosave = false, save = false, force = false, abort = false;
  bool now = false; // nothing to wait for: no replicas
  for (std::size_t i = 1; i < c.argv.size(); ++i) {
    auto opt = c.argv[i];
    if (iequals(opt, "nosave"))
      nosave = true;
    else if (iequals(opt, "save"))
      save = true;
    else if (iequals(opt, "now"))
      now = true;
    else if (iequals(opt, "force"))
      force = true;
    else if (iequals(opt, "abort"))
      abort = true;
    else
      return c.error(syntax_error);
  }
  if ((abort && (nosave || save || now || force)) || (nosave && save))
    return c.error(syntax_error);
  if (abort)
    return c.error("ERR No shutdown in progress.");
  // As redis: during the load at start, SHUTDOWN never saves (the table
  // holds only a part of the file).
  if (c.env.persist.loading())
    save = false, nosave = true;
  if (save || (!nosave && !c.env.persist.save_points().empty())) {
    if (save_now(c.tab(), c.env) && !force)
      return c.error("ERR Errors trying to SHUTDOWN. Check logs.");
  }
  if (c.env.shutdown)
    c.env.shutdown();
  c.res.close = true;
}

} // namespace cachet::redis
