// Persistence (redis-server 7.0's rdb.c as seen by clients): SAVE, BGSAVE,
// LASTSAVE, save points, SHUTDOWN SAVE, a save at SIGTERM, and the load at
// start (while the server answers LOADING), on cachet's dump files
// (cachet/dump.hpp): a temp file, fsynced, renamed over the old one, then the
// directory fsynced, so a crash at any point leaves the previous file whole;
// checksummed, so a corrupt or truncated file is refused at start with the
// reason, not taken as empty.
//
// A save writes a point-in-time image: the table's entries as they are at
// one instant, taken while no command runs (the exec gate held alone, as
// EXEC holds it, in direct mode; on the owner, which runs every command, in
// message mode). The image is views of the table's own entries, not a copy:
// the thread that takes it stays pinned in cachet's epoch (detail/epoch.hpp)
// until the file is written, so no entry it saw is freed meanwhile, and the
// table never edits an entry in place (a write puts a new one) but for a
// hash's fields, which are copied. The pause is the walk (measured by
// bench/redis/save_pause.py); what writes replace during the save is freed
// after it, as a forked redis's copy-on-write pages are. A BGSAVE's own
// thread takes the image while the command's thread holds the gate, then
// writes it while the server goes on.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/error.hpp>

#include "value.hpp"

namespace cachet::redis {

// -- a value in a dump (CAF's inspect, found by ADL) --------------------------

/// A value's dump: its bytes, its expiry, whether it is a hash and, if so,
/// its fields in iteration order (read under the hash's lock).
template <class Inspector>
std::enable_if_t<Inspector::reads_state, typename Inspector::result_type>
inspect(Inspector& f, value& x) {
  bool is_hash = !x.is_string();
  std::string bytes{x.bytes()};
  std::vector<std::pair<std::string, std::string>> fields;
  if (is_hash) {
    std::shared_lock<std::shared_mutex> guard{x.hash()->mutex()};
    fields.reserve(x.hash()->size());
    x.hash()->for_each([&](const std::string& k, const std::string& v) {
      fields.emplace_back(k, v);
    });
  }
  return f(bytes, x.expire_at, is_hash, fields);
}

template <class Inspector>
std::enable_if_t<Inspector::writes_state, typename Inspector::result_type>
inspect(Inspector& f, value& x) {
  bool is_hash = false;
  std::string bytes;
  std::vector<std::pair<std::string, std::string>> fields;
  if (auto err = f(bytes, x.expire_at, is_hash, fields))
    return err;
  if (is_hash) {
    static const listpack_limits defaults;
    hash_ptr h{new hash_object};
    for (auto& [k, v] : fields)
      h->set(k, v, defaults);
    x.set_hash(std::move(h));
  } else {
    x.set_bytes(bytes);
  }
  return {};
}

// -- the state of saving -------------------------------------------------------

/// redis's save points: a background save once `seconds` have passed and
/// at least `changes` writes were made since the last save.
struct save_point {
  std::int64_t seconds;
  std::int64_t changes;
};

/// Parses redis's "S C [S C ...]" ("" for none); false if malformed.
bool parse_save_points(std::string_view text, std::vector<save_point>& out);

/// "S C S C ...", as CONFIG GET save shows them.
std::string save_points_text(const std::vector<save_point>& points);

/// Where the dump goes, what the last save did, and the save in flight;
/// shared by every thread. One save at a time (claim, then save or
/// background), so that files land in the order their images were taken.
class persistence {
public:
  persistence() = default;
  persistence(const persistence&) = delete;
  persistence& operator=(const persistence&) = delete;
  ~persistence();

  // -- configuration (--dir, --dbfilename, --save; CONFIG SET) ----------------

  std::string dir() const;
  std::string dbfilename() const;
  std::vector<save_point> save_points() const;
  void set_dir(std::string dir);
  void set_dbfilename(std::string name);
  void set_save_points(std::vector<save_point> points);

  /// dir/dbfilename.
  std::string path() const;

  // -- saving -----------------------------------------------------------------

  /// Claims the right to save; false if a save runs.
  bool try_claim();

  /// Waits until no save runs, then claims.
  void claim();

  /// Gives a claim back unused.
  void release();

  /// Records how a save went (`written` keys, or the error) and gives the
  /// claim back; `dirty` is the server's write count its image held.
  void finish(const caf::expected<std::uint64_t>& written, std::int64_t dirty,
              bool background);

  /// Runs `job` (a BGSAVE, which calls finish) on a thread of its own.
  void background(std::function<void()> job);

  /// A save (SAVE or BGSAVE) runs: its image keeps what it reads from
  /// being freed until it is written.
  bool saving() const noexcept {
    return busy_.load(std::memory_order_relaxed);
  }

  /// What the save in flight holds of its own (its image's list of
  /// entries and copied hashes, its write buffer); 0 when none runs
  /// (finish resets it).
  /// Counted in used_memory, not for eviction: redis's fork holds the
  /// like outside it.
  std::atomic<std::int64_t> working_bytes{0};

  /// A BGSAVE is writing (INFO's rdb_bgsave_in_progress).
  bool in_background() const noexcept {
    return background_.load(std::memory_order_acquire);
  }

  /// BGSAVE SCHEDULE while a save runs: the owner starts one after it.
  std::atomic<bool> scheduled{false};

  // -- figures (INFO persistence, LASTSAVE) -----------------------------------

  std::atomic<std::int64_t> last_save{0};      // unix s of the last success
  std::atomic<std::int64_t> dirty_at_save{0};  // the write count it held
  std::atomic<bool> last_ok{true};             // rdb_last_bgsave_status
  std::atomic<std::int64_t> last_seconds{-1};  // rdb_last_bgsave_time_sec
  std::atomic<std::int64_t> started_ms{0};     // the BGSAVE in flight
  std::atomic<std::int64_t> saves{0};          // rdb_saves
  std::atomic<std::int64_t> loaded_keys{0};    // so far, while loading
  std::atomic<std::int64_t> loaded_expired{0};

  std::atomic<std::int64_t> last_try{0};       // unix s of the last BGSAVE

  // -- loading at start (redis's loading:1) -----------------------------------

  /// The dump is being loaded: commands without redis's `loading` flag are
  /// refused with LOADING, and nothing saves (a save would write a part of
  /// the file over the whole of it).
  bool loading() const noexcept {
    return loading_.load(std::memory_order_acquire);
  }

  void begin_loading(std::int64_t total_bytes) noexcept;
  void end_loading() noexcept;

  /// INFO's loading_* figures: unix s of the start, the file's size, and its
  /// bytes up to the last entry gone through, expired ones included (0 while
  /// the checksums are checked, before the first key goes in).
  std::atomic<std::int64_t> loading_started{0};
  std::atomic<std::int64_t> loading_total_bytes{0};
  std::atomic<std::int64_t> loading_loaded_bytes{0};
  /// redis's key-load-delay, for tests: microseconds to wait after each
  /// key loaded.
  std::int64_t key_load_delay_us = 0;

  /// How errors read in the log (the actor system's render).
  std::function<std::string(const caf::error&)> render;

private:
  mutable std::mutex mtx_;
  std::condition_variable idle_;
  std::atomic<bool> busy_{false}; // written under mtx_
  std::string dir_ = ".";
  std::string dbfilename_ = "dump.cachet";
  std::vector<save_point> points_;
  std::atomic<bool> background_{false};
  std::atomic<bool> loading_{false};
  std::thread writer_;
};

} // namespace cachet::redis
