// The store tools on a store they may read but not write (docs/cli.md,
// "Read-only stores"): the reading tools read it and create nothing beside
// it; the tools that write say that the store refused, with exit 3.
//
// A test cannot rely on permissions stopping root: as root, the tool runs as
// `nobody` (uid 65534, who owns none of the files); otherwise the file (and
// its directory) are made read-only. The child checks that it really cannot
// write before it runs the tool; a test that cannot make its store
// unwritable fails saying so.

#include "cli_test_support.hpp"
#include "temp_dir.hpp"

#include <annals/persistence/sqlite_event_store.hpp>
#include <annals/persistence/store_lock.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <grp.h>
#include <set>

using namespace annals;
using annals::test::CliResult;
namespace fs = std::filesystem;

namespace {

constexpr int could_write_the_file = 125;
constexpr int wrong_directory_access = 126;

struct ReadOnlyStore {
  annals::test::TempDir dir;
  std::string db = dir.file("bank.db");
  bool as_nobody = ::geteuid() == 0;

  ~ReadOnlyStore() {
    // Let TempDir remove what is there.
    std::error_code ec;
    fs::permissions(dir.path(), fs::perms::owner_all, fs::perm_options::add, ec);
  }

  RuntimeOptions options() const {
    RuntimeOptions o;
    SqliteStoreOptions so;
    so.path = db;
    o.store = sqlite_store(so);
    o.log.level = LogLevel::off;
    return o;
  }

  static void run(Runtime& rt, const std::string& id, const std::string& command, json::object data) {
    Command c;
    c.aggregate = "account";
    c.id = id;
    c.command = command;
    c.data = std::move(data);
    auto r = rt.execute(c);
    INFO(json::serialize(r.to_json()));
    REQUIRE(r.accepted());
  }

  static void write_events(Runtime& rt) {
    run(rt, "acc-1", "open", {{"owner", "Ada"}});
    run(rt, "acc-1", "deposit", {{"amount", 100}});
    run(rt, "acc-2", "open", {{"owner", "Bob"}});
    run(rt, "acc-2", "deposit", {{"amount", 40}});
  }

  /// Four bank events; the runtime is closed, so no -wal or -shm is left.
  void write_store() const {
    {
      Runtime rt(options());
      rt.register_aggregate(bank::account_type());
      rt.register_projection(bank::balances_projection());
      write_events(rt);
    }
    REQUIRE_FALSE(fs::exists(db + "-wal"));
    REQUIRE_FALSE(fs::exists(db + "-shm"));
    forget_lock_file();
  }

  /// A store handed to another user may come without its lock file: then
  /// nothing but the store file is there.
  void forget_lock_file() const { fs::remove(store_lock_path(db)); }

  /// Parks position 2 for balances, as a runtime whose balances failed on it would have.
  void park_position_2() const {
    SqliteStoreOptions so;
    so.path = db;
    auto s = open_sqlite_store(so);
    DeadLetter d;
    d.projection = "balances";
    d.position = 2;
    d.stream = {"account", "acc-1"};
    d.event_type = "deposited";
    d.error = "balances broke (test)";
    d.attempts = 3;
    s->park_event(d);
    s.reset();
    forget_lock_file();
  }

  std::set<std::string> files() const {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(dir.path())) names.insert(e.path().filename().string());
    return names;
  }

  /// Makes the store unwritable for the tool: the file always, the
  /// directory unless `dir_writable` (then the tool could create files beside it).
  void make_unwritable(bool dir_writable) const {
    const auto r = fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read;
    const auto rx = r | fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec;
    for (const auto& e : fs::directory_iterator(dir.path())) fs::permissions(e.path(), r);
    if (as_nobody) fs::permissions(dir.path(), dir_writable ? fs::perms::all : rx);
    else fs::permissions(dir.path(), dir_writable ? rx | fs::perms::owner_write : rx);
  }

  /// The `annals` executable with `args` as a user who may not write the
  /// store (see make_unwritable).
  CliResult run_unwritable(std::vector<std::string> args, bool dir_writable = false) const {
    make_unwritable(dir_writable);
    const std::string dir_path = dir.path().string();
    CliResult res = annals::test::run_program(ANNALS_CLI, args, [&] {
      if (as_nobody && (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(127);
      if (::access(db.c_str(), W_OK) == 0) ::_exit(could_write_the_file);
      if ((::access(dir_path.c_str(), W_OK) == 0) != dir_writable) ::_exit(wrong_directory_access);
    });
    fs::permissions(dir.path(), fs::perms::owner_all, fs::perm_options::add);
    if (res.code == could_write_the_file)
      FAIL("the test could not make '" << db << "' unwritable for the tool"
                                       << (as_nobody ? " (running it as nobody)" : " (chmod a-w)"));
    if (res.code == wrong_directory_access)
      FAIL("the test could not make the directory of '" << db << "' " << (dir_writable ? "writable" : "unwritable")
                                                         << " for the tool");
    if (res.code == 127) FAIL("could not run " << ANNALS_CLI << (as_nobody ? " as nobody" : ""));
    return res;
  }

  /// The stored events' "position type" lines, read as the test's own user.
  std::vector<std::string> stored() const {
    SqliteStoreOptions so;
    so.path = db;
    so.read_only = true;
    std::vector<std::string> out;
    for (const auto& e : open_sqlite_store(so)->read_all(1, 100)) out.push_back(std::to_string(e.position) + " " + e.type);
    return out;
  }
};

std::vector<std::string> event_types_of(const CliResult& r) {
  std::vector<std::string> out;
  for (const auto& line : r.out_lines()) {
    json::error_code ec;
    auto v = json::parse(line, ec);
    if (ec || !v.is_object()) {
      out.push_back("not JSON: " + line);
      continue;
    }
    out.push_back(std::to_string(v.at("position").as_int64()) + " " + json::value_to<std::string>(v.at("type")));
  }
  return out;
}

const std::vector<std::string> four_events = {"1 opened", "2 deposited", "3 opened", "4 deposited"};

} // namespace

SCENARIO_METHOD(ReadOnlyStore, "the reading tools read a store this user may not write and create nothing beside it") {
  GIVEN("a closed bank store with four events") {
    write_store();
    const auto before = files();

    WHEN("its directory is not writable either (was: exit 3, \"attempt to write a readonly database\")") {
      THEN("events, streams, dead-letters list, projections and reconcile work; no file appears") {
        auto events = run_unwritable({"events", "--store", db});
        CHECK(events.code == 0);
        CHECK(events.err.empty());
        CHECK(event_types_of(events) == four_events);
        auto streams = run_unwritable({"streams", "--store", db, "--text"});
        CHECK(streams.code == 0);
        CHECK(streams.out_lines().size() == 3);
        auto list = run_unwritable({"dead-letters", "list", "--store", db});
        CHECK(list.code == 0);
        CHECK(list.out.empty());
        auto projections = run_unwritable({"projections", "balances", "--store", db});
        CHECK(projections.code == 0);
        CHECK_THAT(projections.out, Catch::Contains(R"("checkpoint":4)"));
        auto reconcile = run_unwritable({"reconcile", "balances", "--store", db});
        CHECK(reconcile.code == 0);
        CHECK(reconcile.out == "balances: equal at position 4\n");
        CHECK(files() == before);
      }
    }
    WHEN("its directory is writable (was: -wal and -shm files of this user left behind)") {
      THEN("the tools work and leave no file beside the store") {
        auto events = run_unwritable({"events", "--store", db}, /*dir_writable=*/true);
        CHECK(events.code == 0);
        CHECK(event_types_of(events) == four_events);
        auto reconcile = run_unwritable({"reconcile", "balances", "--store", db}, /*dir_writable=*/true);
        CHECK(reconcile.code == 0);
        CHECK(reconcile.out == "balances: equal at position 4\n");
        CHECK(files() == before);
      }
    }
  }
}

SCENARIO_METHOD(ReadOnlyStore, "a reading tool on a store another user is writing reads its write-ahead log") {
  GIVEN("a runtime that keeps the store open with events in its -wal") {
    Runtime writer(options());
    writer.register_aggregate(bank::account_type());
    write_events(writer);
    REQUIRE(fs::file_size(db + "-wal") > 0);
    REQUIRE(fs::exists(db + "-shm"));
    const auto before = files();

    WHEN("annals events runs as a user who may not write it") {
      auto r = run_unwritable({"events", "--store", db});
      THEN("it sees every committed event, also those only in the -wal, and creates nothing") {
        CHECK(r.code == 0);
        CHECK(r.err.empty());
        CHECK(event_types_of(r) == four_events);
        CHECK(files() == before);
      }
    }
  }
}

TEST_CASE_METHOD(ReadOnlyStore, "a reading tool refuses a -wal it could only read by creating its -shm, and says why") {
  // A store copied with its -wal but without its -shm (the -wal holds events the file lacks).
  annals::test::TempDir source;
  {
    RuntimeOptions o = options();
    SqliteStoreOptions so;
    so.path = source.file("bank.db");
    o.store = sqlite_store(so);
    Runtime writer(o);
    writer.register_aggregate(bank::account_type());
    write_events(writer);
    REQUIRE(fs::file_size(so.path + "-wal") > 0);
    fs::copy_file(so.path, db);
    fs::copy_file(so.path + "-wal", db + "-wal");
  }
  const auto before = files();
  auto r = run_unwritable({"events", "--store", db});
  CHECK(r.code == 3);
  CHECK(r.out.empty());
  CHECK_THAT(r.reason(), Catch::StartsWith("annals: database '" + db + "' has a write-ahead log ('" + db
                                           + "-wal') that cannot be read without creating its '-shm' file, and "
                                             "this user may not write it: Permission denied")
                           && Catch::EndsWith("open the store once as a user who may write it (any annals tool "
                                              "folds the log in), then try again"));
  CHECK(r.err_lines().size() == 1);
  CHECK(files() == before);
}

TEST_CASE_METHOD(ReadOnlyStore, "reading tools on a store they may write leave no -wal or -shm behind") {
  write_store();
  const auto before = files();
  const auto catalog = annals::test::example_catalog();
  for (std::vector<std::string> args : {std::vector<std::string>{"events"}, {"streams"}, {"dead-letters", "list"},
                                        {"projections"}, {"reconcile", "balances"}}) {
    args.push_back("--store");
    args.push_back(db);
    INFO("annals " << args[0]);
    auto r = annals::test::run_annals(catalog, args);
    CHECK(r.code == 0);
    CHECK(files() == before);
  }
}

SCENARIO_METHOD(ReadOnlyStore, "the tools that write say that the store is read-only, with exit 3") {
  GIVEN("a bank store where balances parked position 2") {
    write_store();
    park_position_2();
    const auto before = files();

    WHEN("annals rebuild balances (it keeps snapshots) runs as a user who may not write the store") {
      THEN("exit 3: the snapshot cannot be stored, and why (was, with a writable directory: exit 0, \"no snapshot "
           "stored (the projection keeps none)\")") {
        for (bool dir_writable : {false, true}) {
          INFO("its directory is " << (dir_writable ? "writable" : "not writable"));
          auto r = run_unwritable({"rebuild", "balances", "--store", db}, dir_writable);
          CHECK(r.code == 3);
          CHECK(r.out.empty());
          CHECK(r.err == "annals: cannot store the snapshot of balances: database '" + db
                           + "' is read-only (this user may not write it: Permission denied)\n");
          CHECK(files() == before);
        }
      }
    }
    WHEN("annals dead-letters retry runs as a user who may not write the store") {
      THEN("exit 3: the projection applied it but the store refused to unpark it (was, with a writable directory: "
           "exit 1, \"still fails, stays parked\")") {
        for (bool dir_writable : {false, true}) {
          INFO("its directory is " << (dir_writable ? "writable" : "not writable"));
          auto r = run_unwritable({"dead-letters", "retry", "--store", db, "--projection", "balances", "--position", "2"},
                                  dir_writable);
          CHECK(r.code == 3);
          const std::string refusal = "database '" + db + "' is read-only (this user may not write it: Permission "
                                                          "denied); cannot remove a parked event";
          CHECK(r.out == "balances @2: stays parked, the store failed: " + refusal + "\n");
          CHECK(r.reason() == "annals: the store failed while retrying event 2 of 'balances': " + refusal);
          SqliteStoreOptions so;
          so.path = db;
          so.read_only = true;
          CHECK(open_sqlite_store(so)->dead_letters("balances").size() == 1);
          CHECK(files() == before);
        }
      }
    }
  }
}
