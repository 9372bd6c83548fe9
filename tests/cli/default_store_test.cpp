// Without --store (docs/cli.md, "Which store"): `annals run` writes
// annals-<scenario name>.db in the working directory and the store tools
// read the one store they find there, so `annals run demo.json` then
// `annals events` just works. Run as the real executable in a directory of
// its own.

#include "annals_child.hpp"
#include "cli_test_support.hpp"
#include "temp_dir.hpp"

#include <annals/persistence/sqlite_event_store.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

using namespace annals;
using annals::test::Child;
using annals::test::contains;
using annals::test::lines_of;
using annals::test::run_child;

namespace {

const char* const two_accounts = R"({
  "name": "two", "domain": "bank",
  "steps": [
    {"step": "command", "aggregate": "account", "id": "ada", "command": "open", "data": {"owner": "Ada"}},
    {"step": "command", "aggregate": "account", "id": "bob", "command": "open", "data": {"owner": "Bob"}}
  ]})";

struct Dir {
  annals::test::TempDir dir;
  std::string out, err;

  std::string write(const std::string& name, const std::string& text) const {
    const auto path = dir.file(name);
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  /// `annals ARGS...` with the directory as its working directory.
  int annals(const std::vector<std::string>& args) {
    return run_child(args, dir.file("stderr.txt"), {dir.path().string(), {}, false}, &out, &err);
  }
};

} // namespace

SCENARIO_METHOD(Dir, "Without --store the tools read the store annals run wrote in the working directory") {
  GIVEN("a directory where `annals run two.json` ran without --store") {
    const auto scenario = write("two.json", two_accounts);
    REQUIRE(annals({"run", scenario, "--color", "never"}) == cli::exit_ok);
    THEN("the run named its store once at the start and said the tools find it") {
      CHECK(contains(out, "store sqlite:annals-two.db"));
      CHECK(contains(out, "The events are in annals-two.db: try `annals events --text` or `annals streams --text` "
                          "(the only store here: the tools find it)."));
    }
    WHEN("annals events and annals streams run there without --store") {
      const int events = annals({"events", "--text"});
      const auto event_lines = lines_of(out);
      const int streams = annals({"streams"});
      THEN("they read annals-two.db") {
        CHECK(events == cli::exit_ok);
        REQUIRE(event_lines.size() == 2);
        CHECK(contains(event_lines[0], "account/ada"));
        CHECK(contains(event_lines[1], "account/bob"));
        CHECK(streams == cli::exit_ok);
        CHECK(lines_of(out).size() == 2);
        CHECK(err.empty());
      }
    }
    WHEN("a second scenario's store appears beside it") {
      std::string text = two_accounts;
      text.replace(text.find("\"two\""), 5, "\"oth\"");
      const auto other = write("other.json", text);
      REQUIRE(annals({"run", other, "--color", "never"}) == cli::exit_ok);
      THEN("that run names the --store to pass") {
        CHECK(contains(out, "try `annals events --store annals-oth.db --text`"));
      }
      THEN("a tool without --store exits 2, listing them and saying to pass --store") {
        CHECK(annals({"events"}) == cli::exit_usage);
        CHECK(out.empty());
        CHECK(err == "annals: several stores in the working directory (annals-oth.db, annals-two.db): pass --store "
                     "FILE to choose one\n");
        CHECK(annals({"events", "--store", "annals-oth.db"}) == cli::exit_ok);
        CHECK(lines_of(out).size() == 2);
      }
    }
  }
  GIVEN("an embedded runtime's default store annals.db and its companions") {
    {
      RuntimeOptions o;
      SqliteStoreOptions so;
      so.path = dir.file("annals.db");
      o.store = sqlite_store(so);
      o.log.level = LogLevel::off;
      Runtime rt(o);
      rt.register_aggregate(bank::account_type());
      Command c;
      c.aggregate = "account";
      c.id = "ada";
      c.command = "open";
      c.data = {{"owner", "Ada"}};
      REQUIRE(rt.execute(c).accepted());
    }
    write("annals-notes.txt", "not a store");
    std::filesystem::create_directory(dir.file("annals-dir.db"));
    THEN("the tools read it (files that are no annals-*.db or annals.db file do not count)") {
      CHECK(annals({"streams"}) == cli::exit_ok);
      CHECK(err.empty());
      CHECK(contains(out, "\"id\":\"ada\""));
    }
  }
}

SCENARIO_METHOD(Dir, "Without --store in a directory with no store a tool says what annals run would write") {
  for (const auto& args : {std::vector<std::string>{"events"}, {"projections"}, {"rebuild", "balances"}}) {
    INFO(args.front());
    CHECK(annals(args) == cli::exit_store);
    CHECK(out.empty());
    CHECK(err == "annals: no store in the working directory: `annals run SCENARIO.json` writes annals-<scenario "
                 "name>.db here; pass --store FILE for a store elsewhere\n");
  }
  CHECK(annals({"events", "--memory"}) == cli::exit_ok);  // --memory needs no file
  CHECK_FALSE(std::filesystem::exists(dir.file("annals.db")));
}
