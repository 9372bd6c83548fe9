// The store-ownership lock seen from the command line (docs/store.md, "Who
// writes a store"): tools whose writes are unsafe beside another writer
// refuse, naming it, and leave the store as it was; the lock dies with its
// process. The other process is real: annals_test_writer.

#include "bank_commands.hpp"
#include "child_process.hpp"
#include "cli_test_support.hpp"
#include "temp_dir.hpp"
#include "text.hpp"
#include "wait_until.hpp"

#include <annals/persistence/sqlite_event_store.hpp>
#include <annals/persistence/store_error.hpp>
#include <annals/persistence/store_lock.hpp>
#include <annals/runtime.hpp>
#include <bank/account.hpp>

#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace annals;
using annals::test::CliResult;

namespace {

struct LockFixture {
  annals::test::TempDir dir;
  std::string db = dir.file("busy.db");
  scenarios::DomainCatalog catalog = annals::test::example_catalog();

  CliResult annals(std::vector<std::string> args) const { return annals::test::run_annals(catalog, std::move(args)); }

  // The store with account acc-1 opened (position 1), written by a runtime that is gone again.
  void open_account_in_store() const {
    RuntimeOptions o;
    o.store = sqlite_store({db});
    o.log.level = LogLevel::off;
    Runtime rt(o);
    rt.register_aggregate(bank::account_type());
    REQUIRE(rt.execute(annals::test::open_account("acc-1")).accepted());
  }

  std::int64_t stored_events() const {
    SqliteStoreOptions so;
    so.path = db;
    so.read_only = true;
    return open_sqlite_store(so)->head_position();
  }

  // "ACK <version> <position>" -> position.
  static std::int64_t acked_position(const std::string& line) {
    std::smatch m;
    static const std::regex ack(R"(ACK (\d+) (\d+))");
    REQUIRE(std::regex_match(line, m, ack));
    return std::stoll(m[2]);
  }
};

// "... open by another annals process (pid 1234, `annals_test_writer`): <advice>"
bool names_the_writer(const std::string& reason, const std::string& db, const std::string& advice) {
  static const std::string writer = "`annals_test_writer`";
  const std::regex says("annals: the store '" + std::regex_replace(db, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)")
                        + R"(' is open by another annals process \(pid \d+, )" + writer + R"(\): )");
  return std::regex_search(reason, says) && annals::test::contains(reason, advice);
}

} // namespace

SCENARIO_METHOD(LockFixture, "G1 annals run --fresh does not delete a store that another process has open") {
  const auto scenario = dir.file("report.json");
  std::ofstream(scenario) << R"({"domain": "bank", "steps": [{"step": "report"}]})";
  GIVEN("a second process writing the store, with acknowledged deposits") {
    open_account_in_store();
    annals::test::WriterProcess writer({"crash", db, "acc-1"});
    const std::int64_t acked = acked_position(writer.read_line());
    WHEN("annals run --fresh is pointed at it") {
      auto r = annals({"run", scenario, "--store", db, "--fresh"});
      THEN("exit 3, naming the writer, and every acknowledged event is still there while it goes on writing") {
        CHECK(r.code == cli::exit_store);
        INFO(r.err);
        CHECK(names_the_writer(r.reason(), db, "not deleting it; stop that process first, or choose another --store"));
        CHECK(r.err_lines().size() == 1);
        CHECK(stored_events() >= acked);
        const std::int64_t later = acked_position(writer.read_line());
        CHECK(later > acked);
        CHECK(stored_events() >= later);
      }
    }
  }
}

SCENARIO_METHOD(LockFixture, "G5 annals dead-letters retry and rebuild refuse a store another process is writing") {
  GIVEN("a second process writing the store") {
    open_account_in_store();
    REQUIRE(annals::test::run_writer({"deposit", db, "acc-1", "3"}) == 0);
    annals::test::WriterProcess writer({"crash", db, "acc-1"});
    acked_position(writer.read_line());
    const std::string advice = "stop it first, or do this through that process (its HTTP API or embedded runtime)";
    WHEN("annals dead-letters retry --all") {
      auto r = annals({"dead-letters", "retry", "--store", db, "--projection", "balances", "--all"});
      THEN("exit 3, naming it") {
        CHECK(r.code == cli::exit_store);
        INFO(r.err);
        CHECK(names_the_writer(r.reason(), db, advice));
        CHECK(r.out.empty());
      }
    }
    WHEN("annals rebuild balances") {
      auto r = annals({"rebuild", "balances", "--store", db});
      THEN("exit 3, naming it") {
        CHECK(r.code == cli::exit_store);
        INFO(r.err);
        CHECK(names_the_writer(r.reason(), db, advice));
      }
    }
    WHEN("a reading tool runs beside it") {
      auto r = annals({"dead-letters", "list", "--store", db});
      THEN("it works") { CHECK(r.code == 0); }
    }
    WHEN("the writer is killed (SIGKILL: nothing of it cleans up)") {
      writer.kill(SIGKILL);
      THEN("the lock went with it: the retry runs") {
        auto r = annals({"dead-letters", "retry", "--store", db, "--projection", "balances", "--all"});
        CHECK(r.code == 0);
        CHECK(r.out == "no parked events for projection 'balances'\n");
      }
    }
  }
}

SCENARIO_METHOD(LockFixture, "A writer does not open a store a tool holds exclusively, and says who holds it") {
  open_account_in_store();
  REQUIRE(annals::test::run_writer({"deposit", db, "acc-1", "1"}) == 0);
  GIVEN("this process holding the store's lock exclusively, as annals run or dead-letters retry do") {
    auto held = StoreLock::acquire(db, StoreLockMode::exclusive);
    WHEN("another process opens it for writing") {
      auto r = annals::test::run_program(ANNALS_TEST_WRITER, {"deposit", db, "acc-1", "1"});
      THEN("it fails at once with the holder's pid, and writes nothing") {
        CHECK(r.code == 1);
        CHECK(annals::test::contains(r.err, "the store '" + db + "' is locked for exclusive use by another annals "
                                              "process (pid " + std::to_string(::getpid())));
        CHECK(annals::test::contains(r.err, "wait until it has finished"));
        CHECK(stored_events() == 2);
      }
    }
    WHEN("this process asks for it again, for writing") {
      THEN("it shares its own hold (the tool's own runtime)") {
        CHECK(StoreLock::acquire(db, StoreLockMode::shared).mode() == StoreLockMode::exclusive);
      }
    }
  }
  GIVEN("this process with the store open for writing") {
    auto store = open_sqlite_store({db});
    THEN("an exclusive lock is refused in this process too") {
      try {
        StoreLock::acquire(db, StoreLockMode::exclusive);
        FAIL("acquired");
      } catch (const StoreError& e) {
        CHECK(e.kind() == StoreFailure::in_use);
        CHECK(std::string(e.what()) == "the store '" + db + "' is already open for writing in this process: close it first");
      }
    }
  }
}

// Several services starting on one store at the same moment all get it: a
// shared acquirer never holds the lock exclusively, not even while it writes
// its line into the sidecar (flock's EX->SH conversion is not atomic, and an
// earlier version refused a writer that started during that step).
SCENARIO("G2 writer processes starting on one store at the same moment all open it") {
  annals::test::TempDir dir;
  const std::string db = dir.file("shared.db");
  constexpr int rounds = 30;
  constexpr int writers = 8;
  int refused = 0;
  for (int round = 0; round < rounds; ++round) {
    int start[2], status[2], release[2];
    REQUIRE(::pipe(start) == 0);
    REQUIRE(::pipe(status) == 0);
    REQUIRE(::pipe(release) == 0);
    std::vector<pid_t> children;
    for (int i = 0; i < writers; ++i) {
      const pid_t pid = ::fork();
      REQUIRE(pid >= 0);
      if (pid == 0) {
        ::close(start[1]);
        ::close(release[1]);
        char c;
        (void)::read(start[0], &c, 1);  // EOF: every writer starts now
        char answer = 'y';
        try {
          auto held = StoreLock::acquire(db, StoreLockMode::shared);
          (void)::write(status[1], &answer, 1);
          (void)::read(release[0], &c, 1);  // hold it until all have answered
        } catch (const StoreError&) {
          answer = 'n';
          (void)::write(status[1], &answer, 1);
        }
        ::_exit(0);
      }
      children.push_back(pid);
    }
    ::close(start[0]);
    ::close(status[1]);
    ::close(release[0]);
    ::close(start[1]);  // go
    for (int i = 0; i < writers; ++i) {
      char answer = 0;
      REQUIRE(::read(status[0], &answer, 1) == 1);
      if (answer != 'y') ++refused;
    }
    ::close(release[1]);
    ::close(status[0]);
    for (pid_t pid : children) ::waitpid(pid, nullptr, 0);
  }
  INFO(refused << " of " << rounds * writers << " writers were refused");
  CHECK(refused == 0);
}
