// The store tools of `annals` (docs/cli.md), by example: given a store with
// these events, when `annals <tool> ...`, then exactly these lines and this
// exit code. The tools run in-process through run_cli; one test runs the
// real executable.

#include "cli_test_support.hpp"
#include "context.hpp"  // run_cli with the interrupt flag
#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <annals/persistence/sqlite_event_store.hpp>

#include <SQLiteCpp/SQLiteCpp.h>
#include <boost/describe/class.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>

using namespace annals;
using annals::test::CliResult;

namespace cli_test {

// The test domain's switches: "amounts" throws on a deposit of 13 while
// fail_on_13 is set, "fragile" on every deposit while fragile is set.
std::atomic<bool> fail_on_13{false};
std::atomic<bool> fragile{false};

struct Amounts {
  std::map<std::string, std::int64_t> by_account;
  std::int64_t total = 0;
};
BOOST_DESCRIBE_STRUCT(Amounts, (), (by_account, total))

struct Count {
  std::int64_t deposits = 0;
};
BOOST_DESCRIBE_STRUCT(Count, (), (deposits))

std::int64_t amount(const Event& e) { return e.data.at("amount").as_int64(); }

ProjectionType amounts_projection() {
  return ProjectionType::define<Amounts>("amounts")
    .on_json("account", "deposited", [](Amounts& m, const Event& e) {
      if (fail_on_13 && amount(e) == 13) throw std::runtime_error("amount 13 is unlucky");
      m.by_account[e.stream.id] += amount(e);
      m.total += amount(e);
    })
    .on_json("account", "withdrawn", [](Amounts& m, const Event& e) {
      m.by_account[e.stream.id] -= amount(e);
      m.total -= amount(e);
    })
    .snapshot_every(2);
}

ProjectionType fragile_projection() {
  return ProjectionType::define<Count>("fragile").on_json("account", "deposited", [](Count& m, const Event&) {
    if (fragile) throw std::runtime_error("fragile broke");
    ++m.deposits;
  });
}

// bank and orders as in cli/main.cpp, plus "tests" with the two projections above.
scenarios::DomainCatalog catalog() {
  auto c = annals::test::example_catalog();
  c.add({"tests", "test projections amounts (snapshots every 2) and fragile", [](Runtime& rt) {
           rt.register_projection(amounts_projection());
           rt.register_projection(fragile_projection());
         }});
  return c;
}

struct Fixture {
  annals::test::TempDir dir;
  std::string db = dir.file("store.db");
  scenarios::DomainCatalog domains = catalog();

  Fixture() {
    fail_on_13 = false;
    fragile = false;
  }

  CliResult annals(std::vector<std::string> args) const { return annals::test::run_annals(domains, std::move(args)); }

  RuntimeOptions options() const {
    RuntimeOptions o;
    SqliteStoreOptions so;
    so.path = db;
    o.store = sqlite_store(so);
    o.command_timeout = std::chrono::seconds(20);
    o.log.level = LogLevel::off;
    o.projections.initial_backoff = std::chrono::milliseconds(5);
    o.projections.max_backoff = std::chrono::milliseconds(20);
    return o;
  }

  static void run(Runtime& rt, const std::string& aggregate, const std::string& id, const std::string& command,
                  json::object data) {
    Command c;
    c.aggregate = aggregate;
    c.id = id;
    c.command = command;
    c.data = std::move(data);
    auto r = rt.execute(c);
    INFO(json::serialize(r.to_json()));
    REQUIRE(r.accepted());
  }

  /// The standard store: positions 1..7 (see `standard` below). With
  /// `amounts`, the "amounts" projection runs while they are written (and
  /// parks position 5 if fail_on_13 is set).
  void write_standard_store(bool amounts = false) const {
    Runtime rt(options());
    rt.register_aggregate(bank::account_type());
    rt.register_aggregate(orders::inventory_type());
    if (amounts) rt.register_projection(amounts_projection());
    run(rt, "account", "acc-1", "open", {{"owner", "Ada"}});
    run(rt, "account", "acc-1", "deposit", {{"amount", 100}});
    run(rt, "account", "acc-2", "open", {{"owner", "Bob"}});
    run(rt, "account", "acc-1", "deposit", {{"amount", 50}});
    run(rt, "account", "acc-2", "deposit", {{"amount", 13}});
    run(rt, "account", "acc-1", "withdraw", {{"amount", 30}});
    run(rt, "inventory", "sku-1", "add_stock", {{"quantity", 10}});
    if (amounts) {
      REQUIRE(annals::test::wait_until([&] {
        auto st = rt.projection_status("amounts");
        return st && st->running && st->checkpoint == 7 && st->parked == (fail_on_13 ? 1 : 0);
      }));
    }
  }

  std::unique_ptr<EventStore> store() const {
    SqliteStoreOptions so;
    so.path = db;
    so.read_only = true;
    return open_sqlite_store(so);
  }
};

// "position aggregate/id vN type data" of one JSON line of `annals events`.
std::string summary(const std::string& line) {
  json::error_code ec;
  auto v = json::parse(line, ec);
  if (ec || !v.is_object()) return "not a JSON object: " + line;
  const auto& o = v.as_object();
  return std::to_string(o.at("position").as_int64()) + " " + json::value_to<std::string>(o.at("aggregate")) + "/"
         + json::value_to<std::string>(o.at("id")) + " v" + std::to_string(o.at("version").as_int64()) + " "
         + json::value_to<std::string>(o.at("type")) + " " + json::serialize(o.at("data"));
}

std::vector<std::string> summaries(const CliResult& r) {
  std::vector<std::string> out;
  for (const auto& l : r.out_lines()) out.push_back(summary(l));
  return out;
}

const std::vector<std::string> standard = {
  R"(1 account/acc-1 v1 opened {"owner":"Ada"})",
  R"(2 account/acc-1 v2 deposited {"amount":100})",
  R"(3 account/acc-2 v1 opened {"owner":"Bob"})",
  R"(4 account/acc-1 v3 deposited {"amount":50})",
  R"(5 account/acc-2 v2 deposited {"amount":13})",
  R"(6 account/acc-1 v4 withdrawn {"amount":30})",
  R"(7 inventory/sku-1 v1 stock_added {"quantity":10})",
};

// The standard events at these positions.
std::vector<std::string> at(std::initializer_list<int> positions) {
  std::vector<std::string> out;
  for (int p : positions) out.push_back(standard.at(static_cast<std::size_t>(p - 1)));
  return out;
}

// Times vary: "2026-11-24T10:00:00.123Z" and "2026-11-24T10:00:00.123456Z" become "<time>".
std::string without_times(const std::string& s) {
  static const std::regex time(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(\d{3})?Z)");
  return std::regex_replace(s, time, "<time>");
}
std::vector<std::string> without_times(const std::vector<std::string>& lines) {
  std::vector<std::string> out;
  for (const auto& l : lines) out.push_back(without_times(l));
  return out;
}

json::object parse_object(const std::string& line) {
  json::error_code ec;
  auto v = json::parse(line, ec);
  INFO(line);
  REQUIRE_FALSE(ec);
  REQUIRE(v.is_object());
  return v.as_object();
}

} // namespace cli_test

using namespace cli_test;

// --- events ------------------------------------------------------------------

SCENARIO_METHOD(Fixture, "annals events lists the stored events as JSON lines, filtered") {
  GIVEN("a store with seven events on three streams") {
    write_standard_store();

    WHEN("annals events") {
      auto r = annals({"events", "--store", db});
      THEN("every event, oldest first, one Event::to_json() per line") {
        CHECK(r.code == 0);
        CHECK(r.err.empty());
        CHECK(summaries(r) == standard);
        auto stored = store()->read_all(1, 100);
        auto lines = r.out_lines();
        REQUIRE(lines.size() == stored.size());
        for (std::size_t i = 0; i < lines.size(); ++i) CHECK(lines[i] == json::serialize(stored[i].to_json()));
      }
    }
    WHEN("annals events --stream account/acc-1") {
      auto r = annals({"events", "--store", db, "--stream", "account/acc-1"});
      THEN("exactly that stream's events") {
        CHECK(r.code == 0);
        CHECK(summaries(r) == at({1, 2, 4, 6}));
      }
    }
    WHEN("annals events --stream of a stream without events") {
      auto r = annals({"events", "--store", db, "--stream", "account/acc-9"});
      THEN("exit 2: there is no such stream (was: nothing, and success)") {
        CHECK(r.code == 2);
        CHECK(r.out.empty());
        CHECK(r.reason() == "annals: no stream 'account/acc-9' in this store (`annals streams --aggregate account` "
                            "lists its streams)");
      }
    }
    WHEN("annals events --aggregate inventory") {
      auto r = annals({"events", "--store", db, "--aggregate", "inventory"});
      THEN("only the inventory's event") { CHECK(summaries(r) == at({7})); }
    }
    WHEN("annals events --type deposited --type withdrawn") {
      auto r = annals({"events", "--store", db, "--type", "deposited", "--type", "withdrawn"});
      THEN("events of either type") { CHECK(summaries(r) == at({2, 4, 5, 6})); }
    }
    WHEN("annals events --from 3 --to 5") {
      auto r = annals({"events", "--store", db, "--from", "3", "--to", "5"});
      THEN("positions 3 to 5, both included") { CHECK(summaries(r) == at({3, 4, 5})); }
    }
    WHEN("annals events --limit 2") {
      auto r = annals({"events", "--store", db, "--limit", "2"});
      THEN("the first two") { CHECK(summaries(r) == at({1, 2})); }
    }
    WHEN("filters are combined: --stream account/acc-1 --type deposited --from 3 --limit 5") {
      auto r = annals({"events", "--store", db, "--stream", "account/acc-1", "--type", "deposited", "--from", "3",
                       "--limit", "5"});
      THEN("all of them apply") { CHECK(summaries(r) == at({4})); }
    }
    WHEN("--aggregate account --type deposited --limit 2") {
      auto r = annals({"events", "--store", db, "--aggregate", "account", "--type", "deposited", "--limit", "2"});
      THEN("the limit counts printed events") { CHECK(summaries(r) == at({2, 4})); }
    }
    WHEN("annals events --text") {
      auto r = annals({"events", "--store", db, "--text"});
      THEN("one aligned line per event: position, time, stream, version, type, data") {
        CHECK(r.code == 0);
        CHECK(without_times(r.out_lines()) == std::vector<std::string>{
          R"(1  <time>  account/acc-1    v1  opened       {"owner":"Ada"})",
          R"(2  <time>  account/acc-1    v2  deposited    {"amount":100})",
          R"(3  <time>  account/acc-2    v1  opened       {"owner":"Bob"})",
          R"(4  <time>  account/acc-1    v3  deposited    {"amount":50})",
          R"(5  <time>  account/acc-2    v2  deposited    {"amount":13})",
          R"(6  <time>  account/acc-1    v4  withdrawn    {"amount":30})",
          R"(7  <time>  inventory/sku-1  v1  stock_added  {"quantity":10})",
        });
      }
    }
    WHEN("the store is opened in memory instead") {
      auto r = annals({"events", "--memory"});
      THEN("there is nothing to list") {
        CHECK(r.code == 0);
        CHECK(r.out.empty());
      }
    }
  }
}

SCENARIO_METHOD(Fixture, "annals events and streams read a large store in batches") {
  GIVEN("2500 events of one stream interleaved with 2100 one-event streams") {
    {
      SqliteStoreOptions so;
      so.path = db;
      auto s = open_sqlite_store(so);
      std::vector<AppendRequest> batch;
      std::int64_t big_version = 0;
      for (int i = 0; i < 2100; ++i) {
        AppendRequest small;
        small.stream = {"account", "s-" + std::to_string(10000 + i)};
        small.events.push_back(NewEvent{"opened", 1, json::object{{"owner", "x"}}});
        batch.push_back(small);
        if (i < 500) {
          AppendRequest big;
          big.stream = {"account", "big"};
          big.expected_version = big_version;
          for (int j = 0; j < 5; ++j)
            big.events.push_back(NewEvent{"deposited", 1, json::object{{"amount", ++big_version}}});
          batch.push_back(big);
        }
      }
      for (const auto& out : s->append(batch)) REQUIRE(out.has_value());
      REQUIRE(s->event_count() == 4600);
    }
    WHEN("annals events") {
      auto lines = annals({"events", "--store", db}).out_lines();
      THEN("all 4600, in position order") {
        REQUIRE(lines.size() == 4600);
        for (std::size_t i = 0; i < lines.size(); ++i)
          REQUIRE(parse_object(lines[i]).at("position").as_int64() == static_cast<std::int64_t>(i + 1));
      }
    }
    WHEN("annals events --stream account/big") {
      auto lines = annals({"events", "--store", db, "--stream", "account/big"}).out_lines();
      THEN("its 2500 events, versions 1..2500") {
        REQUIRE(lines.size() == 2500);
        for (std::size_t i = 0; i < lines.size(); ++i) {
          auto o = parse_object(lines[i]);
          REQUIRE(o.at("version").as_int64() == static_cast<std::int64_t>(i + 1));
          REQUIRE(o.at("data").at("amount").as_int64() == static_cast<std::int64_t>(i + 1));
        }
      }
    }
    WHEN("annals events --from 998 --to 1003, across a batch boundary") {
      auto lines = annals({"events", "--store", db, "--from", "998", "--to", "1003"}).out_lines();
      THEN("positions 998..1003") {
        std::vector<std::int64_t> positions;
        for (const auto& l : lines) positions.push_back(parse_object(l).at("position").as_int64());
        CHECK(positions == std::vector<std::int64_t>{998, 999, 1000, 1001, 1002, 1003});
      }
    }
    WHEN("annals streams") {
      auto lines = annals({"streams", "--store", db}).out_lines();
      THEN("all 2101 streams, ordered by aggregate and id") {
        REQUIRE(lines.size() == 2101);
        auto big = parse_object(lines[0]);
        CHECK(json::serialize(big) ==
              R"({"aggregate":"account","id":"big","version":2500,"events":2500,"first_position":2,"last_position":3000})");
        CHECK(parse_object(lines[1]).at("id") == "s-10000");
        CHECK(parse_object(lines[2100]).at("id") == "s-12099");
        CHECK(json::serialize(parse_object(lines[2100])) ==
              R"({"aggregate":"account","id":"s-12099","version":1,"events":1,"first_position":4600,"last_position":4600})");
      }
    }
  }
}

// --- streams -------------------------------------------------------------------

SCENARIO_METHOD(Fixture, "annals streams lists each stream once") {
  GIVEN("the store with seven events") {
    write_standard_store();
    WHEN("annals streams") {
      auto r = annals({"streams", "--store", db});
      THEN("one JSON line per stream: version, event count, first and last position") {
        CHECK(r.code == 0);
        CHECK(r.out_lines() == std::vector<std::string>{
          R"({"aggregate":"account","id":"acc-1","version":4,"events":4,"first_position":1,"last_position":6})",
          R"({"aggregate":"account","id":"acc-2","version":2,"events":2,"first_position":3,"last_position":5})",
          R"({"aggregate":"inventory","id":"sku-1","version":1,"events":1,"first_position":7,"last_position":7})",
        });
      }
    }
    WHEN("annals streams --aggregate account --text") {
      auto r = annals({"streams", "--store", db, "--aggregate", "account", "--text"});
      THEN("an aligned table of the account streams") {
        CHECK(r.code == 0);
        CHECK(r.out_lines() == std::vector<std::string>{
          "AGGREGATE  ID     VERSION  EVENTS  FIRST  LAST",
          "account    acc-1        4       4      1     6",
          "account    acc-2        2       2      3     5",
        });
      }
    }
    WHEN("annals streams --aggregate loan --text: no aggregate type of the store") {
      auto r = annals({"streams", "--store", db, "--aggregate", "loan", "--text"});
      THEN("exit 2, naming the store's aggregate types (was: \"no streams of 'loan'\", exit 0)") {
        CHECK(r.code == 2);
        CHECK(r.out.empty());
        CHECK(r.reason() == "annals: no aggregate type 'loan' in this store (its aggregate types: account, inventory)");
      }
    }
    WHEN("annals streams --aggregate order --text: an aggregate type of the store's domains without events") {
      auto r = annals({"streams", "--store", db, "--aggregate", "order", "--text"});
      THEN("it says there are none") {
        CHECK(r.code == 0);
        CHECK(r.out == "no streams of 'order'\n");
      }
    }
  }
}

// --- projections -----------------------------------------------------------------

SCENARIO_METHOD(Fixture, "annals projections shows each projection's status once caught up") {
  GIVEN("the store with seven events, where 'amounts' parked position 5 and keeps snapshots") {
    fail_on_13 = true;
    write_standard_store(/*amounts=*/true);
    const auto snapshot = store()->load_projection_snapshot("amounts");
    REQUIRE(snapshot);
    const std::string snap = std::to_string(snapshot->position);

    WHEN("annals projections --domain bank --text") {
      auto r = annals({"projections", "--store", db, "--domain", "bank", "--text"});
      THEN("a table of the bank's projections, caught up with the seven events") {
        CHECK(r.code == 0);
        CHECK(r.out_lines() == std::vector<std::string>{
          "PROJECTION    RUNNING  CHECKPOINT  HEAD  BACKLOG  RESTARTS  PARKED  SNAPSHOT  LAST ERROR",
          "balances      yes               7     7        0         0       0         -  -",
          "daily_totals  yes               7     7        0         0       0         -  -",
        });
      }
    }
    WHEN("annals projections amounts (JSON lines)") {
      auto r = annals({"projections", "amounts", "--store", db});
      THEN("its numbers, the parked event and its stored snapshot's position") {
        CHECK(r.code == 0);
        CHECK(r.out_lines() == std::vector<std::string>{
          R"({"projection":"amounts","running":true,"checkpoint":7,"head":7,"backlog":0,"restarts":0,"parked":1,"snapshot_position":)"
            + snap + R"(,"last_error":null})",
        });
      }
    }
    WHEN("annals projections without names") {
      auto r = annals({"projections", "--store", db});
      THEN("every projection of every domain, by name") {
        CHECK(r.code == 0);
        std::vector<std::string> names;
        for (const auto& l : r.out_lines()) names.push_back(json::value_to<std::string>(parse_object(l).at("projection")));
        CHECK(names == std::vector<std::string>{"amounts", "balances", "daily_totals", "fragile", "order_summary",
                                                "stock_levels"});
      }
    }
    WHEN("a projection keeps failing: annals projections fragile --timeout 0.5") {
      fragile = true;
      auto r = annals({"projections", "fragile", "--store", db, "--timeout", "0.5", "--log-level", "off"});
      THEN("its status is printed, exit 1 says it did not catch up, and nothing was parked (read-only)") {
        CHECK(r.code == 1);
        REQUIRE(r.out_lines().size() == 1);
        auto st = parse_object(r.out_lines()[0]);
        CHECK(st.at("checkpoint").as_int64() < 7);
        CHECK(st.at("last_error").is_string());
        CHECK_THAT(r.reason(), Catch::StartsWith("annals: not caught up after 0.5 s: projection 'fragile' is at position")
                                 && Catch::Contains("(last error: "));
        CHECK(r.err_lines().size() == 1);
        CHECK(store()->dead_letters("fragile").empty());
      }
    }
    WHEN("annals projections is interrupted while waiting") {
      fragile = true;
      std::atomic<bool> interrupted{true};
      std::ostringstream out, err;
      int code = cli::run_cli({"annals", "projections", "fragile", "--store", db, "--log-level", "off"}, domains, out,
                              err, &interrupted);
      THEN("it stops with 130") {
        CHECK(code == 130);
        CHECK(err.str() == "annals: interrupted\n");
      }
    }
  }
}

// --- dead letters ----------------------------------------------------------------

SCENARIO_METHOD(Fixture, "annals dead-letters lists parked events and retries them after a fix") {
  GIVEN("the store where 'amounts' parked the deposit of 13 at position 5") {
    fail_on_13 = true;
    write_standard_store(/*amounts=*/true);

    WHEN("annals dead-letters list") {
      auto r = annals({"dead-letters", "list", "--store", db});
      THEN("one JSON line for the parked event") {
        CHECK(r.code == 0);
        REQUIRE(r.out_lines().size() == 1);
        auto d = parse_object(r.out_lines()[0]);
        CHECK(d.at("projection") == "amounts");
        CHECK(d.at("position") == 5);
        CHECK(d.at("aggregate") == "account");
        CHECK(d.at("id") == "acc-2");
        CHECK(d.at("event_type") == "deposited");
        CHECK(d.at("attempts") == 3);
        CHECK_THAT(json::value_to<std::string>(d.at("error")), Catch::Contains("amount 13 is unlucky"));
        CHECK(without_times(json::value_to<std::string>(d.at("parked_at"))) == "<time>");
      }
    }
    WHEN("annals dead-letters list --projection amounts --text") {
      auto r = annals({"dead-letters", "list", "--store", db, "--projection", "amounts", "--text"});
      THEN("an aligned table") {
        CHECK(r.code == 0);
        const auto error = store()->dead_letters("amounts").at(0).error;
        CHECK(without_times(r.out_lines()) == std::vector<std::string>{
          "PROJECTION  POSITION  STREAM         EVENT      ATTEMPTS  PARKED AT                 ERROR",
          "amounts            5  account/acc-2  deposited         3  <time>  " + error,
        });
      }
    }
    WHEN("annals dead-letters list --projection balances: a projection with nothing parked") {
      auto r = annals({"dead-letters", "list", "--store", db, "--projection", "balances"});
      THEN("nothing") {
        CHECK(r.code == 0);
        CHECK(r.out.empty());
      }
    }
    WHEN("the code still fails: annals dead-letters retry --projection amounts --position 5") {
      auto r = annals({"dead-letters", "retry", "--store", db, "--projection", "amounts", "--position", "5"});
      THEN("exit 1, and it stays parked") {
        CHECK(r.code == 1);
        CHECK_THAT(r.out, Catch::StartsWith("amounts @5: still fails, stays parked: ")
                            && Catch::Contains("amount 13 is unlucky"));
        CHECK(r.reason() == "annals: 1 of 1 parked event of 'amounts' still fails");
        CHECK(store()->dead_letters("amounts").size() == 1);
      }
    }
    WHEN("after the fix: annals dead-letters retry --projection amounts --all --json") {
      fail_on_13 = false;
      auto r = annals({"dead-letters", "retry", "--store", db, "--projection", "amounts", "--all", "--json"});
      THEN("it applies, is removed from the dead letters, and the stored snapshot is refreshed") {
        CHECK(r.code == 0);
        CHECK(r.out == R"({"projection":"amounts","position":5,"applied":true,"error":null})" "\n");
        CHECK(store()->dead_letters("").empty());
        CHECK(r.err.empty());

        AND_WHEN("the projection is reconciled: the refreshed snapshot has the retried deposit") {
          auto rec = annals({"reconcile", "amounts", "--store", db});
          THEN("equal, exit 0") {
            CHECK(rec.code == 0);
            CHECK(rec.out == "amounts: equal at position 7\n");
          }
          AND_WHEN("it is rebuilt") {
            auto reb = annals({"rebuild", "amounts", "--store", db, "--json"});
            THEN("the new snapshot includes it and reconcile finds them equal") {
              CHECK(reb.code == 0);
              auto o = parse_object(reb.out);
              CHECK(o.at("events_replayed") == 7);
              CHECK(o.at("parked_skipped") == 0);
              CHECK(o.at("checkpoint") == 7);
              CHECK(o.at("snapshot_position") == 7);
              CHECK(o.at("snapshot_saved") == true);
              CHECK(annals({"reconcile", "amounts", "--store", db}).out == "amounts: equal at position 7\n");
            }
          }
        }
      }
    }
    WHEN("annals reconcile amounts while position 5 is parked") {
      auto r = annals({"reconcile", "amounts", "--store", db});
      auto j = annals({"reconcile", "amounts", "--store", db, "--json"});
      THEN("exit 4: equal only because both copies skip the parked event (was: \"equal at position 7\", exit 0)") {
        CHECK(r.code == 4);
        CHECK(r.out == "amounts: equal at position 7 except 1 parked event at position 5\n");
        CHECK(r.err == "annals: projection 'amounts' equals a fresh copy only without its 1 parked event at position "
                       "5: fix the projection, then `annals dead-letters retry --projection amounts --all`\n");
        CHECK(j.code == 4);
        CHECK(j.out == R"({"projection":"amounts","equal":true,"position":7,"differences":[],"parked":[5]})" "\n");
      }
    }
    WHEN("annals dead-letters retry --projection balances --all: nothing parked there") {
      auto r = annals({"dead-letters", "retry", "--store", db, "--projection", "balances", "--all"});
      THEN("it says so") {
        CHECK(r.code == 0);
        CHECK(r.out == "no parked events for projection 'balances'\n");
      }
    }
  }
}

// --- rebuild and reconcile -----------------------------------------------------

SCENARIO_METHOD(Fixture, "annals rebuild and reconcile") {
  GIVEN("the store with seven events, written with 'amounts' (snapshots every 2) running") {
    write_standard_store(/*amounts=*/true);
    WHEN("annals rebuild balances") {
      auto r = annals({"rebuild", "balances", "--store", db});
      THEN("what it did: events replayed, the checkpoint, the time; balances keeps no snapshot") {
        CHECK(r.code == 0);
        CHECK(std::regex_match(r.out, std::regex(R"(rebuilt balances: replayed 7 events, checkpoint 7, \d+ ms; )"
                                                 R"(no snapshot stored \(the projection keeps none\)\n)")));
      }
    }
    WHEN("annals rebuild amounts: a projection with snapshots") {
      auto r = annals({"rebuild", "amounts", "--store", db});
      THEN("its snapshot is saved at the new checkpoint") {
        CHECK(r.code == 0);
        CHECK(std::regex_match(r.out, std::regex(R"(rebuilt amounts: replayed 7 events, checkpoint 7, \d+ ms; )"
                                                 R"(snapshot saved at position 7\n)")));
        auto snap = store()->load_projection_snapshot("amounts");
        REQUIRE(snap);
        CHECK(snap->position == 7);
        CHECK(json::serialize(snap->model) == R"({"by_account":{"acc-1":120,"acc-2":13},"total":133})");
      }
    }
    WHEN("annals reconcile balances") {
      auto r = annals({"reconcile", "balances", "--store", db});
      THEN("equal at the head") {
        CHECK(r.code == 0);
        CHECK(r.out == "balances: equal at position 7\n");
      }
    }
    WHEN("annals reconcile amounts --json after its stored snapshot was tampered with") {
      REQUIRE(annals({"rebuild", "amounts", "--store", db}).code == 0);
      {
        SqliteStoreOptions so;
        so.path = db;
        auto s = open_sqlite_store(so);
        auto snap = s->load_projection_snapshot("amounts");
        REQUIRE(snap);
        snap->model.as_object()["total"] = 1;
        s->save_projection_snapshot(*snap);
      }
      auto r = annals({"reconcile", "amounts", "--store", db, "--json"});
      THEN("exit 1 and the path that differs") {
        CHECK(r.code == 1);
        CHECK(r.out == R"({"projection":"amounts","equal":false,"position":7,"differences":["total"],"parked":[]})" "\n");
      }
    }
  }
}

// --- the store's domains ---------------------------------------------------------

SCENARIO_METHOD(Fixture, "the store tools load the domains that use the store and refuse the others' projections") {
  GIVEN("a store written by a runtime with the bank domain only") {
    {
      Runtime rt(options());
      domains.install(rt, {"bank"});
      run(rt, "account", "acc-1", "open", {{"owner", "Ada"}});
      run(rt, "account", "acc-1", "deposit", {{"amount", 100}});
    }
    THEN("the store records the bank's aggregate type and projections") {
      auto users = store()->recorded_users();
      REQUIRE(users);
      CHECK(users->aggregates == std::set<std::string>{"account"});
      CHECK(users->projections == std::set<std::string>{"balances", "daily_totals"});
    }
    WHEN("annals projections --text") {
      auto r = annals({"projections", "--store", db, "--text"});
      THEN("only the bank's projections (was: every domain's, order_summary \"caught up\" too)") {
        CHECK(r.code == 0);
        CHECK(r.out_lines() == std::vector<std::string>{
          "PROJECTION    RUNNING  CHECKPOINT  HEAD  BACKLOG  RESTARTS  PARKED  SNAPSHOT  LAST ERROR",
          "balances      yes               2     2        0         0       0         -  -",
          "daily_totals  yes               2     2        0         0       0         -  -",
        });
      }
    }
    WHEN("a tool is asked for a projection of another domain") {
      THEN("exit 2, naming the store's projections; nothing is written (was: rebuild wrote its snapshot)") {
        const std::string reason =
          "annals: projection 'order_summary' does not use this store; its projections are: balances, daily_totals";
        for (std::vector<std::string> args : {std::vector<std::string>{"rebuild", "order_summary"},
                                              {"reconcile", "order_summary"},
                                              {"projections", "order_summary"},
                                              {"dead-letters", "list", "--projection", "order_summary"},
                                              {"dead-letters", "retry", "--projection", "order_summary", "--all"}}) {
          args.push_back("--store");
          args.push_back(db);
          INFO("annals " << args[0] << " " << args[1]);
          auto r = annals(args);
          CHECK(r.code == 2);
          CHECK(r.out.empty());
          CHECK(r.err_lines().size() == 1);
          CHECK(r.reason() == reason);
        }
        CHECK_FALSE(store()->load_projection_snapshot("order_summary"));
        CHECK(store()->recorded_users()->projections == std::set<std::string>{"balances", "daily_totals"});
      }
    }
    WHEN("--domain names a domain that does not use the store") {
      auto r = annals({"projections", "--store", db, "--domain", "orders"});
      THEN("exit 2, naming the store's domains") {
        CHECK(r.code == 2);
        CHECK(r.reason() == "annals: domain 'orders' does not use this store; its domains are: bank");
      }
    }
    WHEN("the store records a projection that no domain of this annals registers") {
      {
        SqliteStoreOptions so;
        so.path = db;
        open_sqlite_store(so)->record_users(StoreUsers{{}, {"fraud_alerts"}});
      }
      auto r = annals({"rebuild", "fraud_alerts", "--store", db});
      THEN("exit 2, saying so") {
        CHECK(r.code == 2);
        CHECK(r.reason() == "annals: projection 'fraud_alerts' uses this store, but no domain of this annals registers "
                            "it (its domains: bank, orders, tests)");
      }
    }
  }
}

TEST_CASE_METHOD(Fixture, "store tools on a store of the previous schema version: every domain, and no migration") {
  write_standard_store();
  {
    SQLite::Database raw(db, SQLite::OPEN_READWRITE);
    raw.exec("DROP TABLE store_users");
    raw.exec("PRAGMA user_version=3");
  }
  auto projections = annals({"projections", "--store", db});
  CHECK(projections.code == 0);
  std::vector<std::string> names;
  for (const auto& l : projections.out_lines())
    names.push_back(json::value_to<std::string>(parse_object(l).at("projection")));
  CHECK(names == std::vector<std::string>{"amounts", "balances", "daily_totals", "fragile", "order_summary",
                                          "stock_levels"});
  CHECK(summaries(annals({"events", "--store", db, "--type", "withdrawn"})) == at({6}));
  auto rebuild = annals({"rebuild", "balances", "--store", db});
  CHECK(rebuild.code == 3);
  CHECK(rebuild.reason() == "annals: database '" + db + "' has an older schema than this build writes (version 4), "
                            "and the store tools never migrate a store: open it once for writing with a service or "
                            "runtime of this build, then try again");
  SQLite::Database raw(db, SQLite::OPEN_READONLY);
  CHECK(raw.execAndGet("PRAGMA user_version").getInt() == 3);
}

TEST_CASE_METHOD(Fixture, "annals events: a filter that names nothing in the store is exit 2, with what it has") {
  write_standard_store();
  struct Case {
    std::vector<std::string> args;
    std::string reason;
  };
  const std::vector<Case> cases = {
    {{"events", "--type", "depositd"}, "annals: no event type 'depositd' in this store (its event types: deposited, "
                                       "opened, stock_added, withdrawn); did you mean 'deposited'?"},
    {{"events", "--type", "deposited", "--type", "loaned"},
     "annals: no event type 'loaned' in this store (its event types: deposited, opened, stock_added, withdrawn)"},
    {{"events", "--aggregate", "acount"}, "annals: no aggregate type 'acount' in this store (its aggregate types: "
                                          "account, inventory); did you mean 'account'?"},
    {{"events", "--stream", "acount/acc-1"}, "annals: no aggregate type 'acount' in this store (its aggregate types: "
                                             "account, inventory); did you mean 'account'?"},
    {{"events", "--stream", "inventory/sku-2"}, "annals: no stream 'inventory/sku-2' in this store (`annals streams "
                                                "--aggregate inventory` lists its streams)"},
  };
  for (auto c : cases) {
    c.args.push_back("--store");
    c.args.push_back(db);
    std::string line;
    for (const auto& a : c.args) line += a + " ";
    INFO("annals " << line);
    auto r = annals(c.args);
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    CHECK(r.err_lines().size() == 1);
    CHECK(r.reason() == c.reason);
  }
  // Names the store's domains declare are fine before the store has events of them.
  for (std::vector<std::string> args : {std::vector<std::string>{"events", "--type", "closed"},
                                        {"events", "--aggregate", "order"},
                                        {"events", "--type", "order_placed", "--aggregate", "order"}}) {
    args.push_back("--store");
    args.push_back(db);
    INFO("annals " << args[1] << " " << args[2]);
    auto r = annals(args);
    CHECK(r.code == 0);
    CHECK(r.err.empty());
    CHECK(r.out.empty());
  }
}

// --- beside a writer -----------------------------------------------------------

SCENARIO_METHOD(Fixture, "the reading tools work beside a running writer") {
  GIVEN("a runtime that keeps the store open and writes") {
    write_standard_store();
    Runtime writer(options());
    writer.register_aggregate(bank::account_type());
    Fixture::run(writer, "account", "acc-3", "open", {{"owner", "Cy"}});
    THEN("events, streams, projections and dead-letters list read it") {
      CHECK(annals({"events", "--store", db}).out_lines().size() == 8);
      CHECK(annals({"streams", "--store", db}).out_lines().size() == 4);
      auto p = annals({"projections", "balances", "--store", db});
      CHECK(p.code == 0);
      CHECK(parse_object(p.out).at("checkpoint") == 8);
      CHECK(annals({"dead-letters", "list", "--store", db}).code == 0);
      Fixture::run(writer, "account", "acc-3", "deposit", {{"amount", 1}});
      CHECK(annals({"events", "--store", db, "--stream", "account/acc-3"}).out_lines().size() == 2);
    }
  }
}

// --- errors ----------------------------------------------------------------------

TEST_CASE_METHOD(Fixture, "store tools: a path without a store is exit 3, and no file is created") {
  const std::string missing = dir.file("missing.db");
  const std::vector<std::vector<std::string>> commands = {
    {"events"}, {"streams"}, {"projections"}, {"dead-letters", "list"},
    {"dead-letters", "retry", "--projection", "balances", "--all"}, {"rebuild", "balances"}, {"reconcile", "balances"}};
  for (auto args : commands) {
    args.push_back("--store");
    args.push_back(missing);
    INFO(args[0] << " " << args[1]);
    auto r = annals(args);
    CHECK(r.code == 3);
    CHECK(r.err == "annals: no store at '" + missing + "' (the store tools never create one; `annals run` does)\n");
    CHECK(r.out.empty());
    CHECK_FALSE(std::filesystem::exists(missing));
    CHECK_FALSE(std::filesystem::exists(missing + "-wal"));
  }
}

TEST_CASE_METHOD(Fixture, "store tools: a file that is not an annals store is exit 3 and left unchanged") {
  SECTION("a file of junk") {
    const std::string junk = dir.file("junk.db");
    std::string text;
    for (int i = 0; text.size() < 8192; ++i) text += "not a database, line " + std::to_string(i) + "\n";
    { std::ofstream(junk) << text; }
    for (std::vector<std::string> args : {std::vector<std::string>{"events"}, {"rebuild", "balances"}}) {
      args.push_back("--store");
      args.push_back(junk);
      auto r = annals(args);
      CHECK(r.code == 3);
      CHECK(r.err == "annals: file '" + junk + "' is not an SQLite database while opening the store (file is not a "
                                                "database)\n");
    }
    std::ifstream in(junk);
    CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == text);
  }
  SECTION("an empty file: a tool that writes does not initialize it either") {
    const std::string empty = dir.file("empty.db");
    { std::ofstream out(empty); }
    auto r = annals({"dead-letters", "retry", "--projection", "balances", "--all", "--store", empty});
    CHECK(r.code == 3);
    CHECK(r.err == "annals: database '" + empty + "' is not an initialized annals store (opened read-only, so it "
                                                  "was not initialized)\n");
    CHECK(std::filesystem::file_size(empty) == 0);
  }
  SECTION("another application's SQLite database") {
    const std::string other = dir.file("other.db");
    {
      SQLite::Database o(other, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
      o.exec("CREATE TABLE customers(id INTEGER PRIMARY KEY)");
    }
    auto r = annals({"streams", "--store", other});
    CHECK(r.code == 3);
    CHECK_THAT(r.err, Catch::Contains("is an SQLite database but not an annals store"));
  }
  SECTION("a directory") {
    auto r = annals({"events", "--store", dir.path().string()});
    CHECK(r.code == 3);
    CHECK(r.err == "annals: '" + dir.path().string() + "' is a directory, not a store file\n");
  }
}

TEST_CASE_METHOD(Fixture, "store tools: a store locked by another connection is exit 3 after the busy timeout") {
  write_standard_store();
  SQLite::Database holder(db, SQLite::OPEN_READWRITE);
  holder.exec("PRAGMA locking_mode=EXCLUSIVE");
  holder.exec("BEGIN EXCLUSIVE");
  holder.exec("INSERT INTO events(stream_type, stream_id, version, type, data, metadata, recorded_at)"
              " VALUES('account', 'acc-9', 1, 'opened', '{}', '{}', 0)");
  auto r = annals({"events", "--store", db});
  CHECK(r.code == 3);
  CHECK_THAT(r.err, Catch::StartsWith("annals: database '" + db + "' is locked"));
  CHECK(r.err_lines().size() == 1);
}

TEST_CASE_METHOD(Fixture, "store tools: bad arguments are exit 2 with a one-line reason") {
  write_standard_store();
  struct Case {
    std::vector<std::string> args;
    std::string reason;
  };
  const std::vector<Case> cases = {
    {{"rebuild", "nope"}, "annals: unknown projection 'nope' (known: balances, daily_totals, order_summary, "
                          "stock_levels)"},
    {{"reconcile", "nope", "--domain", "bank"}, "annals: unknown projection 'nope' (known: balances, daily_totals)"},
    {{"projections", "nope"}, "annals: unknown projection 'nope' (known: balances, daily_totals, order_summary, "
                              "stock_levels)"},
    {{"dead-letters", "retry", "--projection", "nope", "--all"}, "annals: unknown projection 'nope' (known: "
                                                                 "balances, daily_totals, order_summary, "
                                                                 "stock_levels)"},
    {{"dead-letters", "list", "--projection", "nope", "--domain", "orders"},
     "annals: unknown projection 'nope' (known: order_summary, stock_levels)"},
    {{"dead-letters", "retry", "--projection", "balances", "--position", "3"},
     "annals: event 3 is not parked for projection 'balances'"},
    {{"dead-letters", "retry", "--projection", "balances"}, "annals: dead-letters retry needs --position N or --all"},
    {{"dead-letters", "retry", "--projection", "balances", "--position", "3", "--all"},
     "annals: --position excludes --all (see annals --help)"},
    {{"events", "--stream", "account"}, "annals: --stream expects AGGREGATE/ID (e.g. account/acc-1), got 'account'"},
    {{"events", "--stream", "/acc-1"}, "annals: --stream expects AGGREGATE/ID (e.g. account/acc-1), got '/acc-1'"},
    {{"events", "--stream", "account/"}, "annals: --stream expects AGGREGATE/ID (e.g. account/acc-1), got 'account/'"},
    {{"events", "--stream", ""}, "annals: --stream expects AGGREGATE/ID (e.g. account/acc-1), got ''"},
    {{"events", "--stream", "account/acc-1", "--aggregate", "account"},
     "annals: --stream excludes --aggregate (see annals --help)"},
    {{"events", "--from", "5", "--to", "4"}, "annals: --to 4 is before --from 5"},
    {{"events", "--limit", "0"}, "annals: --limit: expected an integer >= 1, got '0' (see annals --help)"},
    {{"events", "--from", "x"}, "annals: --from: expected an integer >= 0, got 'x' (see annals --help)"},
    {{"events", "--bogus"}, "annals: The following argument was not expected: --bogus (see annals --help)"},
    {{"streams", "--domain", "nope"}, "annals: unknown domain 'nope' (known: bank, orders, tests)"},
    {{"projections", "--log-level", "loud"}, "annals: --log-level: loud not in {debug,info,warn,error,off} (see annals --help)"},
  };
  for (auto c : cases) {
    c.args.push_back("--store");
    c.args.push_back(db);
    std::string line;
    for (const auto& a : c.args) line += a + " ";
    INFO("annals " << line);
    auto r = annals(c.args);
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    CHECK(r.err_lines().size() == 1);
    CHECK(r.reason() == c.reason);
  }
}

TEST_CASE_METHOD(Fixture, "store tools: --help of every subcommand exits 0 and describes its options") {
  const std::vector<std::pair<std::vector<std::string>, std::string>> helps = {
    {{"events", "--help"}, "--stream"},           {{"events", "--help"}, "no upcasters run"},
    {{"streams", "--help"}, "--aggregate"},       {{"projections", "--help"}, "--timeout"},
    {{"dead-letters", "--help"}, "retry"},        {{"dead-letters", "list", "--help"}, "--projection"},
    {{"dead-letters", "retry", "--help"}, "--all"}, {{"rebuild", "--help"}, "Read models live in memory"},
    {{"reconcile", "--help"}, "equal at position N"}};
  for (const auto& [args, expected] : helps) {
    INFO(args[0] << " " << args[1]);
    auto r = annals(args);
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains("--store") || Catch::Contains("list"));
    CHECK_THAT(r.out, Catch::Contains(expected));
  }
  auto top = annals({"--help"});
  CHECK(top.code == 0);
  for (const char* sub : {"events", "streams", "projections", "dead-letters", "rebuild", "reconcile"})
    CHECK_THAT(top.out, Catch::Contains(sub));
}

TEST_CASE_METHOD(Fixture, "store tools: an interrupted events listing stops with 130") {
  write_standard_store();
  std::atomic<bool> interrupted{true};
  std::ostringstream out, err;
  CHECK(cli::run_cli({"annals", "events", "--store", db}, domains, out, err, &interrupted) == 130);
  CHECK(err.str() == "annals: interrupted\n");
}

TEST_CASE("the annals executable: a missing store is exit 3 with a one-line reason on stderr") {
  annals::test::TempDir dir;
  const std::string missing = dir.file("missing.db");
  auto r = annals::test::run_program(ANNALS_CLI, {"events", "--store", missing});
  CHECK(r.code == 3);
  CHECK(r.out.empty());
  CHECK(r.err == "annals: no store at '" + missing + "' (the store tools never create one; `annals run` does)\n");
  CHECK_FALSE(std::filesystem::exists(missing));

  auto help = annals::test::run_program(ANNALS_CLI, {"events", "--help"});
  CHECK(help.code == 0);
  CHECK_THAT(help.out, Catch::Contains("--stream"));
}
