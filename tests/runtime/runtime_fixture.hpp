#pragma once
// Builds runtimes on a file in a fresh temporary directory.

#include "bank_commands.hpp"
#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <annals/persistence/sqlite_event_store.hpp>
#include <annals/runtime.hpp>
#include <bank/account.hpp>

#include <functional>
#include <memory>

namespace annals::test {

struct RuntimeFixture {
  TempDir dir;
  std::string db = dir.file("store.db");

  RuntimeOptions options(SqliteStoreOptions store = {}) const {
    RuntimeOptions o;
    store.path = db;
    o.store = sqlite_store(store);
    o.command_timeout = std::chrono::seconds(20);
    return o;
  }

  std::unique_ptr<Runtime> bank_runtime(RuntimeOptions o, int snapshot_every = 100) const {
    auto rt = std::make_unique<Runtime>(std::move(o));
    rt->register_aggregate(bank::account_type(snapshot_every));
    return rt;
  }
  std::unique_ptr<Runtime> bank_runtime() const { return bank_runtime(options()); }

  /// Events in the file, counted through a connection of its own.
  std::int64_t stored_events() const { return open_sqlite_store({db})->event_count(); }

  /// Polls `done` until it holds or `limit` passes (see wait_until.hpp).
  static bool eventually(const std::function<bool()>& done,
                         std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    return wait_until(done, limit);
  }

  /// Waits until the projection has applied everything in the store.
  static bool caught_up(Runtime& rt, const std::string& projection,
                        std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    return eventually([&] {
      auto st = rt.projection_status(projection);
      return st && st->running && st->checkpoint == rt.head_position();
    }, limit);
  }

  static std::int64_t balance(Runtime& rt, const std::string& id) {
    auto st = rt.inspect("account", id);
    if (!st) throw std::runtime_error(st.error().message);
    return st->state.as_object().at("balance").as_int64();
  }
};

} // namespace annals::test
