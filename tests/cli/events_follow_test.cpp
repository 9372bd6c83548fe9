// `annals events --follow` (docs/cli.md): the stored events, then each new
// one as it is committed by another process, with the same filters, until
// Ctrl-C (exit 0), --to or --limit. The real executable follows a store that
// this test process writes through a runtime of its own.

#include "annals_child.hpp"
#include "cli_test_support.hpp"
#include "context.hpp"  // run_cli with the interrupt flag
#include "temp_dir.hpp"

#include <annals/persistence/sqlite_event_store.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <memory>
#include <sstream>

using namespace annals;
using annals::test::Child;
using annals::test::contains;
using annals::test::lines_of;

namespace {

constexpr auto patience = std::chrono::seconds(30);

struct Followed {
  annals::test::TempDir dir;
  std::string db = dir.file("store.db");
  std::unique_ptr<Runtime> writer;

  Followed() {
    RuntimeOptions o;
    SqliteStoreOptions so;
    so.path = db;
    o.store = sqlite_store(so);
    o.log.level = LogLevel::off;
    writer = std::make_unique<Runtime>(o);
    writer->register_aggregate(bank::account_type());
    send("open", {{"owner", "Ada"}, {"initial_deposit", 100}});  // positions 1 and 2
  }

  void send(const std::string& command, json::object data, const std::string& id = "ada") {
    Command c;
    c.aggregate = "account";
    c.id = id;
    c.command = command;
    c.data = std::move(data);
    auto r = writer->execute(c);
    INFO(json::serialize(r.to_json()));
    REQUIRE(r.accepted());
  }
  std::string err_file() const { return dir.file("stderr.txt"); }
};

} // namespace

SCENARIO_METHOD(Followed, "annals events --follow prints new events as another process commits them, until Ctrl-C") {
  GIVEN("annals events --follow on a store with two events") {
    Child child({"events", "--follow", "--store", db, "--poll-interval", "20"}, err_file());
    REQUIRE(child.wait_for_output("\"position\":2,", patience));
    WHEN("this process commits a deposit and a withdrawal, then Ctrl-C") {
      send("deposit", {{"amount", 5}});
      REQUIRE(child.wait_for_output("\"position\":3,", patience));
      send("withdraw", {{"amount", 7}});
      REQUIRE(child.wait_for_output("\"position\":4,", patience));
      child.signal(SIGINT);
      const int code = child.finish();
      THEN("each event was printed once, in order, and the exit code is 0") {
        CHECK(code == cli::exit_ok);
        const auto lines = lines_of(child.out);
        REQUIRE(lines.size() == 4);
        for (std::size_t i = 0; i < lines.size(); ++i)
          CHECK(contains(lines[i], "{\"position\":" + std::to_string(i + 1) + ","));
        CHECK(contains(lines[2], "\"type\":\"deposited\""));
        CHECK(contains(lines[3], "\"type\":\"withdrawn\""));
        CHECK(contains(child.err, "annals: interrupted, stopping cleanly"));
        CHECK_FALSE(contains(child.err, "annals: interrupted\n"));
      }
    }
  }
  GIVEN("annals events --follow --type deposited --text") {
    Child child({"events", "--follow", "--type", "deposited", "--text", "--store", db, "--poll-interval", "20"}, err_file());
    REQUIRE(child.wait_for_output("deposited", patience));
    WHEN("a withdrawal and then a deposit are committed") {
      send("withdraw", {{"amount", 7}});
      send("deposit", {{"amount", 5}});
      REQUIRE(child.wait_for_output("{\"amount\":5}", patience));
      child.signal(SIGTERM);
      const int code = child.finish();
      THEN("only the deposits are printed, as text lines") {
        CHECK(code == cli::exit_ok);
        const auto lines = lines_of(child.out);
        REQUIRE(lines.size() == 2);
        CHECK(contains(lines[0], "account/ada  v2  deposited  {\"amount\":100}"));
        CHECK(contains(lines[1], "account/ada  v4  deposited  {\"amount\":5}"));
      }
    }
  }
  GIVEN("annals events --follow --limit 3") {
    Child child({"events", "--follow", "--limit", "3", "--store", db, "--poll-interval", "20"}, err_file());
    REQUIRE(child.wait_for_output("\"position\":2,", patience));
    WHEN("a third event is committed") {
      send("deposit", {{"amount", 5}});
      const int code = child.finish();
      THEN("it is printed and the follow ends by itself with 0") {
        CHECK(code == cli::exit_ok);
        CHECK(lines_of(child.out).size() == 3);
        CHECK(child.err.empty());
      }
    }
  }
}

SCENARIO_METHOD(Followed, "annals events --follow --stream waits for a stream that has no events yet") {
  GIVEN("annals events --follow --stream account/bob, a stream not in the store") {
    Child child({"events", "--follow", "--stream", "account/bob", "--store", db, "--poll-interval", "20"}, err_file());
    WHEN("bob's account is opened and Ada deposits") {
      send("open", {{"owner", "Bob"}}, "bob");
      send("deposit", {{"amount", 5}});
      REQUIRE(child.wait_for_output("\"id\":\"bob\"", patience));
      child.signal(SIGINT);
      const int code = child.finish();
      THEN("only bob's event is printed and the exit code is 0 (a plain listing says 'no stream')") {
        CHECK(code == cli::exit_ok);
        const auto lines = lines_of(child.out);
        REQUIRE(lines.size() == 1);
        CHECK(contains(lines[0], "\"type\":\"opened\""));
      }
    }
  }
}

TEST_CASE("annals events --follow stops with 0 when interrupted in-process, without a reason line") {
  annals::test::TempDir dir;
  const auto db = dir.file("empty.db");
  {
    SqliteStoreOptions so;
    so.path = db;
    open_sqlite_store(so);  // an empty annals store
  }
  std::atomic<bool> interrupted{true};
  std::ostringstream out, err;
  const auto catalog = annals::test::example_catalog();
  CHECK(cli::run_cli({"annals", "events", "--follow", "--store", db}, catalog, out, err, &interrupted) == cli::exit_ok);
  CHECK(err.str().empty());
}
