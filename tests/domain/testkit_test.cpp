// annals::testkit itself: every then_* passes on a right expectation and
// throws ExpectationFailed showing expected and actual on a wrong one; given
// assigns versions, positions and deterministic timestamps; whens chain;
// domain exceptions propagate; the projection fixture over the bank's read
// models.

#include <bank/account.hpp>
#include <bank/projections.hpp>

#include <annals/aggregate_type.hpp>
#include <annals/command.hpp>
#include <annals/decision.hpp>
#include <annals/error.hpp>
#include <annals/event.hpp>
#include <annals/projection_type.hpp>
#include <annals/testkit.hpp>
#include <annals/upcasters.hpp>

#include <boost/describe/class.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace json = annals::json;
using annals::testkit::AggregateFixture;
using annals::testkit::ExpectationFailed;
using annals::testkit::ProjectionFixture;
using Catch::Contains;

// A small domain with the corners the bank does not have: a handler that
// reads the command's metadata, one that accepts with no events, one that
// throws, an event whose handler throws, an event at schema version 2, and a
// state holding a double.
namespace tally {

struct Tally {
  std::int64_t count = 0;
  std::vector<std::string> by;
  double ratio = 0;
};
BOOST_DESCRIBE_STRUCT(Tally, (), (count, by, ratio))

struct Bump { static constexpr const char* command_type = "bump"; };
BOOST_DESCRIBE_STRUCT(Bump, (), ())
struct Noop { static constexpr const char* command_type = "noop"; };
BOOST_DESCRIBE_STRUCT(Noop, (), ())
struct Explode { static constexpr const char* command_type = "explode"; };
BOOST_DESCRIBE_STRUCT(Explode, (), ())
struct Poison { static constexpr const char* command_type = "poison"; };
BOOST_DESCRIBE_STRUCT(Poison, (), ())
struct Rename { static constexpr const char* command_type = "rename"; std::string who; };
BOOST_DESCRIBE_STRUCT(Rename, (), (who))

struct Bumped { static constexpr const char* event_type = "bumped"; std::string by; };
BOOST_DESCRIBE_STRUCT(Bumped, (), (by))
struct Poisoned { static constexpr const char* event_type = "poisoned"; };
BOOST_DESCRIBE_STRUCT(Poisoned, (), ())
struct RatioSet { static constexpr const char* event_type = "ratio_set"; double ratio = 0; };
BOOST_DESCRIBE_STRUCT(RatioSet, (), (ratio))
// Version 1 was {"name": ...}; version 2 renamed the field.
struct Renamed {
  static constexpr const char* event_type = "renamed";
  static constexpr int schema_version = 2;
  std::string who;
};
BOOST_DESCRIBE_STRUCT(Renamed, (), (who))

annals::AggregateType type() {
  return annals::AggregateType::define<Tally>("tally")
    .handle<Bump>([](const Tally&, const Bump&, const annals::Command& c) {
      return annals::emit(Bumped{c.metadata.principal});
    })
    .handle<Noop>([](const Tally&, const Noop&) { return annals::nothing(); })
    .handle<Explode>([](const Tally&, const Explode&) -> annals::Decision { throw std::domain_error("boom"); })
    .handle<Poison>([](const Tally&, const Poison&) { return annals::emit(Poisoned{}); })
    .handle<Rename>([](const Tally&, const Rename& c) { return annals::emit(Renamed{c.who}); })
    .apply<Bumped>([](Tally& s, const Bumped& e) {
      ++s.count;
      s.by.push_back(e.by);
    })
    .apply<Poisoned>([](Tally& s, const Poisoned&) {
      ++s.count;  // changed before it throws: the fixture must not keep it
      throw std::runtime_error("poisoned event");
    })
    .apply<RatioSet>([](Tally& s, const RatioSet& e) { s.ratio = e.ratio; })
    .apply<Renamed>([](Tally& s, const Renamed& e) { s.by.push_back(e.who); })
    .snapshot_every(10);
}

void add_upcasters(annals::Upcasters& u) {
  u.add("tally", "renamed", 1, [](json::value v) {
    auto& o = v.as_object();
    o["who"] = o["name"];
    o.erase("name");
    return v;
  });
}

} // namespace tally

namespace {

// Runs f, which must throw ExpectationFailed; returns its message.
template <class F>
std::string failure_of(F&& f) {
  try {
    f();
  } catch (const ExpectationFailed& e) {
    return e.what();
  }
  FAIL("no ExpectationFailed was thrown");
  return {};
}

AggregateFixture account() { return AggregateFixture(bank::account_type(), "acc-1"); }

constexpr std::int64_t second = 1'000'000;

} // namespace

// ============================================================================
// AggregateFixture: given
// ============================================================================

TEST_CASE("testkit: given assigns versions 1..n, positions and deterministic timestamps", "[testkit]") {
  auto acc = account();
  CHECK(acc.stream() == annals::StreamId{"account", "acc-1"});
  CHECK(acc.version() == 0);
  acc.given(bank::AccountOpened{"Ada"}, bank::Deposited{100}).given_json("withdrawn", {{"amount", 5}});
  CHECK(acc.version() == 3);
  REQUIRE(acc.history().size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& e = acc.history()[i];
    INFO("event " << i);
    CHECK(e.stream == acc.stream());
    CHECK(e.version == static_cast<std::int64_t>(i) + 1);
    CHECK(e.position == static_cast<std::int64_t>(i) + 1);
    CHECK(e.metadata.timestamp_us == annals::testkit::default_start_us + static_cast<std::int64_t>(i) * second);
    CHECK(e.schema_version == 1);
  }
  CHECK(acc.history()[0].type == "opened");
  CHECK(acc.history()[2].data == json::parse(R"({"amount": 5})"));
  CHECK(annals::format_timestamp(acc.history()[0].metadata.timestamp_us) == "2026-01-01T00:00:00.000000Z");
  acc.then_state(bank::Account{true, false, "Ada", 95});

  SECTION("events a command emits continue the stream and the clock") {
    acc.when("deposit", {{"amount", 5}});
    REQUIRE(acc.history().size() == 4);
    const auto& e = acc.history().back();
    CHECK(e.version == 4);
    CHECK(e.position == 4);
    CHECK(e.metadata.timestamp_us == annals::testkit::default_start_us + 3 * second);
    CHECK(e.metadata.causation_id == "command-1");
    acc.when("deposit", {{"amount", 5}});
    CHECK(acc.history().back().metadata.causation_id == "command-2");
  }
  SECTION("at() sets the next timestamp") {
    acc.at("2026-11-24T10:00:00Z").given(bank::Deposited{1}, bank::Deposited{2});
    CHECK(annals::format_timestamp(acc.history()[3].metadata.timestamp_us) == "2026-11-24T10:00:00.000000Z");
    CHECK(annals::format_timestamp(acc.history()[4].metadata.timestamp_us) == "2026-11-24T10:00:01.000000Z");
    acc.at(42).given(bank::Deposited{3});
    CHECK(acc.history()[5].metadata.timestamp_us == 42);
  }
  SECTION("given() accepts NewEvents and vectors of them") {
    acc.given(annals::to_new_event(bank::Deposited{10}),
              std::vector<annals::NewEvent>{annals::to_new_event(bank::Deposited{20})});
    CHECK(acc.version() == 5);
    CHECK(acc.state<bank::Account>().balance == 125);
  }
  SECTION("given() with no events changes nothing") {
    acc.given();
    CHECK(acc.version() == 3);
  }
}

TEST_CASE("testkit: the clock is an option", "[testkit]") {
  annals::testkit::Options options;
  options.start_us = annals::testkit::timestamp_us("2026-11-24T23:59:59Z");
  options.tick_us = 0;
  AggregateFixture acc(bank::account_type(), "acc-1", options);
  acc.given(bank::AccountOpened{"Ada"}, bank::Deposited{1});
  CHECK(acc.history()[0].metadata.timestamp_us == options.start_us);
  CHECK(acc.history()[1].metadata.timestamp_us == options.start_us);
}

TEST_CASE("testkit: timestamp_us reads ISO 8601 UTC dates and times", "[testkit]") {
  using annals::testkit::timestamp_us;
  CHECK(timestamp_us("1970-01-01") == 0);
  CHECK(timestamp_us("2026-01-01") == annals::testkit::default_start_us);
  CHECK(timestamp_us("2026-01-01T00:00:00Z") == annals::testkit::default_start_us);
  CHECK(timestamp_us("2026-01-01T00:00:01") == annals::testkit::default_start_us + second);
  CHECK(timestamp_us("2026-01-01T00:00:00.25Z") == annals::testkit::default_start_us + 250'000);
  CHECK(timestamp_us("1969-12-31T23:59:59Z") == -second);
  for (const char* iso : {"2024-02-29T12:34:56.123456Z", "2026-11-24T10:00:00.000000Z", "2000-12-31T23:59:59.999999Z"})
    CHECK(annals::format_timestamp(timestamp_us(iso)) == iso);
  for (const char* bad : {"", "2026", "2026-1-01", "2026-13-01", "2026-02-29", "2026-01-01T24:00:00Z",
                          "2026-01-01 10:00:00", "2026-01-01T10:00", "2026-01-01T10:00:00.Z",
                          "2026-01-01T10:00:00.1234567Z", "2026-01-01T10:00:00Zx"}) {
    INFO(bad);
    CHECK_THROWS_AS(timestamp_us(bad), std::invalid_argument);
  }
}

TEST_CASE("testkit: a given that cannot be applied throws and changes nothing", "[testkit]") {
  auto acc = account();
  acc.given(bank::AccountOpened{"Ada"});
  // The second event has no handler: the first of the same call is not kept either.
  CHECK_THROWS_WITH(acc.given(bank::Deposited{5}, annals::NewEvent{"frozen", 1, json::object{}}),
                    Contains("aggregate 'account' has no handler for event 'frozen'"));
  CHECK(acc.version() == 1);
  acc.then_state(bank::Account{true, false, "Ada", 0});
  // A handler that throws after changing the state: the change is not kept.
  AggregateFixture t(tally::type(), "t-1");
  CHECK_THROWS_WITH(t.given(tally::Poisoned{}), "poisoned event");
  CHECK(t.version() == 0);
  t.then_state([](const tally::Tally& s) { return s.count == 0; });
  // The clock did not move either.
  t.given(tally::Bumped{"a"});
  CHECK(t.history()[0].metadata.timestamp_us == annals::testkit::default_start_us);
}

// ============================================================================
// AggregateFixture: when and its results
// ============================================================================

TEST_CASE("testkit: chained whens see each other's events", "[testkit]") {
  auto acc = account();
  acc.given(bank::AccountOpened{"Ada"});
  acc.when(bank::Deposit{100}).then_events(bank::Deposited{100});
  acc.when<bank::Withdraw>(bank::Withdraw{30}).then_events(bank::Withdrawn{30});
  CHECK(acc.accepted());
  REQUIRE(acc.events().size() == 1);
  CHECK(acc.events()[0].type == "withdrawn");
  CHECK_FALSE(acc.rejection());
  acc.when("withdraw", {{"amount", 100}}).then_rejected("insufficient_funds", "balance 70 is less than 100");
  CHECK_FALSE(acc.accepted());
  CHECK(acc.events().empty());
  REQUIRE(acc.rejection());
  CHECK(acc.rejection()->code == "insufficient_funds");
  // A rejection commits nothing.
  CHECK(acc.version() == 3);
  acc.then_state([](const bank::Account& s) { return s.balance == 70; });
  acc.when("withdraw", {{"amount", 70}}).then_events(bank::Withdrawn{70});
  acc.when("close").then_events(bank::AccountClosed{});
  acc.then_state(bank::Account{true, true, "Ada", 0});
  CHECK(acc.version() == 5);
}

TEST_CASE("testkit: when(Command) carries metadata to handlers and events", "[testkit]") {
  AggregateFixture t(tally::type(), "t-1");
  annals::Command c = t.command("bump");
  CHECK(c.aggregate == "tally");
  CHECK(c.id == "t-1");
  c.metadata.principal = "ada";
  c.metadata.correlation_id = "corr-1";
  c.command_id = "cmd-42";
  t.when(c).then_events(tally::Bumped{"ada"});
  const auto& e = t.history().back();
  CHECK(e.metadata.principal == "ada");
  CHECK(e.metadata.correlation_id == "corr-1");
  CHECK(e.metadata.causation_id == "cmd-42");

  SECTION("aggregate and id may be left empty; another stream is refused") {
    annals::Command bare;
    bare.command = "bump";
    bare.metadata.principal = "bob";
    t.when(bare).then_events(tally::Bumped{"bob"});
    bare.id = "t-2";
    CHECK_THROWS_AS(t.when(bare), std::invalid_argument);
  }
  SECTION("expected_version is checked like the runtime does") {
    annals::Command v = t.command("bump");
    v.expected_version = 7;
    t.when(v).then_rejected("concurrency_conflict", "tally/t-1 is at version 1, the command expected version 7");
    v.expected_version = 1;
    t.when(v).then_events(tally::Bumped{""});
  }
}

TEST_CASE("testkit: exceptions from domain code propagate unchanged from when()", "[testkit]") {
  AggregateFixture t(tally::type(), "t-1");
  t.given(tally::Bumped{"a"});
  t.when("noop").then_no_events();

  SECTION("a command handler that throws") {
    CHECK_THROWS_AS(t.when(tally::Explode{}), std::domain_error);
    CHECK_THROWS_WITH(t.when(tally::Explode{}), "boom");
    // No result is left over from the earlier when().
    CHECK_THROWS_AS(t.then_no_events(), std::logic_error);
    CHECK(t.version() == 1);
  }
  SECTION("an accepted event whose handler throws") {
    CHECK_THROWS_WITH(t.when("poison"), "poisoned event");
    CHECK(t.version() == 1);
    t.then_state([](const tally::Tally& s) { return s.count == 1; });
  }
}

TEST_CASE("testkit: then_* before any when() is a usage error", "[testkit]") {
  auto acc = account();
  CHECK_THROWS_AS(acc.then_events(bank::Deposited{1}), std::logic_error);
  CHECK_THROWS_AS(acc.then_no_events(), std::logic_error);
  CHECK_THROWS_AS(acc.then_rejected("x"), std::logic_error);
  CHECK_THROWS_AS(acc.events(), std::logic_error);
  CHECK_THROWS_WITH(acc.rejection(), "no command has been run on account/acc-1: call when() first");
  // Not ExpectationFailed: this is a bug in the test, not in the domain.
  try {
    acc.then_no_events();
  } catch (const ExpectationFailed&) {
    FAIL("a usage error must not look like a failed expectation");
  } catch (const std::logic_error&) {
  }
}

// ============================================================================
// AggregateFixture: then_*
// ============================================================================

TEST_CASE("testkit: then_events", "[testkit]") {
  auto acc = account();
  acc.given(bank::AccountOpened{"Ada"}, bank::Deposited{100});
  acc.when("deposit", {{"amount", 5}});

  SECTION("passes on the right events, typed or raw") {
    acc.then_events(bank::Deposited{5});
    acc.then_events(annals::NewEvent{"deposited", 1, json::object{{"amount", 5}}});
    acc.then_events(std::vector<annals::NewEvent>{annals::to_new_event(bank::Deposited{5})});
  }
  SECTION("different data: shows expected, actual and where they differ") {
    auto msg = failure_of([&] { acc.then_events(bank::Deposited{6}); });
    CHECK_THAT(msg, Contains("then_events after when(deposit {\"amount\":5}) on account/acc-1 at version 2"));
    CHECK_THAT(msg, Contains("differs at [0].data.amount"));
    CHECK_THAT(msg, Contains("expected: [{\"type\":\"deposited\",\"data\":{\"amount\":6}}]"));
    CHECK_THAT(msg, Contains("actual:   [{\"type\":\"deposited\",\"data\":{\"amount\":5}}]"));
  }
  SECTION("another type") {
    auto msg = failure_of([&] { acc.then_events(bank::Withdrawn{5}); });
    CHECK_THAT(msg, Contains("\"type\":\"withdrawn\"") && Contains("\"type\":\"deposited\""));
  }
  SECTION("more events than emitted") {
    auto msg = failure_of([&] { acc.then_events(bank::Deposited{5}, bank::Deposited{5}); });
    CHECK_THAT(msg, Contains("differs at [1]"));
    CHECK_THAT(msg, Contains("expected: [{\"type\":\"deposited\",\"data\":{\"amount\":5}},{\"type\":\"deposited\""));
  }
  SECTION("another schema version") {
    auto msg = failure_of([&] { acc.then_events(annals::NewEvent{"deposited", 2, json::object{{"amount", 5}}}); });
    CHECK_THAT(msg, Contains("\"schema_version\":2") && Contains("actual:   [{\"type\":\"deposited\",\"data\""));
  }
  SECTION("a rejected command") {
    acc.when("withdraw", {{"amount", 500}});
    auto msg = failure_of([&] { acc.then_events(bank::Withdrawn{500}); });
    CHECK_THAT(msg, Contains("the command was rejected"));
    CHECK_THAT(msg, Contains("expected: accepted with [{\"type\":\"withdrawn\",\"data\":{\"amount\":500}}]"));
    CHECK_THAT(msg, Contains("actual:   rejected with insufficient_funds: balance 105 is less than 500"));
  }
  SECTION("data is compared as JSON, whatever the key order") {
    AggregateFixture fresh(bank::account_type(), "acc-2");
    fresh.when("open", {{"initial_deposit", 7}, {"owner", "Bob"}})
      .then_events(annals::NewEvent{"opened", 1, json::object{{"owner", "Bob"}}},
                   annals::NewEvent{"deposited", 1, json::object{{"amount", 7}}});
  }
}

TEST_CASE("testkit: then_no_events", "[testkit]") {
  AggregateFixture t(tally::type(), "t-1");
  t.when(tally::Noop{}).then_no_events().then_events();
  CHECK(t.version() == 0);

  t.when("bump");
  auto msg = failure_of([&] { t.then_no_events(); });
  CHECK_THAT(msg, Contains("then_no_events after when(bump {})"));
  CHECK_THAT(msg, Contains("expected: []"));
  CHECK_THAT(msg, Contains("actual:   [{\"type\":\"bumped\",\"data\":{\"by\":\"\"}}]"));

  auto acc = account();
  acc.when("deposit", {{"amount", 1}});
  msg = failure_of([&] { acc.then_no_events(); });
  CHECK_THAT(msg, Contains("expected: accepted with []") && Contains("actual:   rejected with account_not_open"));
}

TEST_CASE("testkit: then_rejected", "[testkit]") {
  auto acc = account();
  acc.given(bank::AccountOpened{"Ada"}).when("withdraw", {{"amount", 500}});

  SECTION("passes on the right code, with or without a message substring") {
    acc.then_rejected("insufficient_funds");
    acc.then_rejected("insufficient_funds", "less than 500");
    acc.then_rejected("insufficient_funds", "balance 0 is less than 500");
  }
  SECTION("another code") {
    auto msg = failure_of([&] { acc.then_rejected("account_closed"); });
    CHECK_THAT(msg, Contains("then_rejected after when(withdraw {\"amount\":500}) on account/acc-1 at version 1"));
    CHECK_THAT(msg, Contains("another rejection code"));
    CHECK_THAT(msg, Contains("expected: rejected with account_closed"));
    CHECK_THAT(msg, Contains("actual:   rejected with insufficient_funds: balance 0 is less than 500"));
  }
  SECTION("another message") {
    auto msg = failure_of([&] { acc.then_rejected("insufficient_funds", "less than 501"); });
    CHECK_THAT(msg, Contains("another rejection message"));
    CHECK_THAT(msg, Contains("expected: rejected with insufficient_funds, message containing \"less than 501\""));
    CHECK_THAT(msg, Contains("actual:   rejected with insufficient_funds: balance 0 is less than 500"));
  }
  SECTION("an accepted command") {
    acc.when("deposit", {{"amount", 9}});
    auto msg = failure_of([&] { acc.then_rejected("insufficient_funds"); });
    CHECK_THAT(msg, Contains("the command was accepted"));
    CHECK_THAT(msg, Contains("expected: rejected with insufficient_funds"));
    CHECK_THAT(msg, Contains("actual:   accepted with [{\"type\":\"deposited\",\"data\":{\"amount\":9}}]"));
  }
}

TEST_CASE("testkit: then_state and then_state_json", "[testkit]") {
  auto acc = account();
  acc.given(bank::AccountOpened{"Ada"}, bank::Deposited{100});
  const std::string actual = R"({"balance":100,"closed":false,"open":true,"owner":"Ada"})";

  SECTION("a predicate") {
    acc.then_state([](const bank::Account& s) { return s.balance == 100; });
    auto msg = failure_of([&] { acc.then_state([](const bank::Account& s) { return s.balance == 99; }); });
    CHECK_THAT(msg, Contains("then_state on account/acc-1 at version 2: the predicate returned false"));
    CHECK_THAT(msg, Contains("actual:   " + actual));
  }
  SECTION("a predicate that asserts itself, and a generic lambda with the state type spelled out") {
    int calls = 0;
    acc.then_state([&](const bank::Account& s) {
      ++calls;
      CHECK(s.owner == "Ada");
    });
    acc.then_state<bank::Account>([&](const auto& s) { return ++calls && s.open; });
    CHECK(calls == 2);
  }
  SECTION("a plain function") {
    struct Check {
      static bool rich(const bank::Account& s) { return s.balance >= 100; }
    };
    acc.then_state(&Check::rich);
  }
  SECTION("an expected value") {
    acc.then_state(bank::Account{true, false, "Ada", 100});
    auto msg = failure_of([&] { acc.then_state(bank::Account{true, false, "Ada", 101}); });
    CHECK_THAT(msg, Contains("differs at balance"));
    CHECK_THAT(msg, Contains(R"(expected: {"balance":101,"closed":false,"open":true,"owner":"Ada"})"));
    CHECK_THAT(msg, Contains("actual:   " + actual));
  }
  SECTION("JSON") {
    acc.then_state_json(json::parse(actual));
    acc.then_state(json::parse(actual));
    auto msg = failure_of([&] { acc.then_state_json(json::parse(R"({"balance":100,"open":true})")); });
    CHECK_THAT(msg, Contains("then_state_json on account/acc-1 at version 2: differs at closed, owner"));
    CHECK_THAT(msg, Contains(R"(expected: {"balance":100,"open":true})"));
    CHECK_THAT(msg, Contains("actual:   " + actual));
  }
  SECTION("after a when(), the message names the command") {
    acc.when("deposit", {{"amount", 1}});
    auto msg = failure_of([&] { acc.then_state_json(json::parse(actual)); });
    CHECK_THAT(msg, Contains("then_state_json after when(deposit {\"amount\":1}) on account/acc-1 at version 2"));
    CHECK_THAT(msg, Contains("\"balance\":101"));
  }
  SECTION("the state as another C++ type is a usage error") {
    CHECK_THROWS_AS(acc.state<tally::Tally>(), std::logic_error);
    CHECK_THROWS_AS(acc.then_state([](const tally::Tally&) { return true; }), std::logic_error);
  }
}

TEST_CASE("testkit: then_snapshot_round_trips, restart and restart_from_snapshot", "[testkit][snapshot]") {
  auto acc = account();
  acc.given(bank::AccountOpened{"Ada"}, bank::Deposited{100}).then_snapshot_round_trips();
  CHECK(acc.snapshot_json() == acc.state_json());
  acc.restart_from_snapshot().when("withdraw", {{"amount", 100}}).then_events(bank::Withdrawn{100});
  acc.restart().then_state(bank::Account{true, false, "Ada", 0});

  SECTION("an aggregate without snapshots") {
    AggregateFixture no_snaps(bank::account_type(0), "acc-1");
    CHECK_THROWS_AS(no_snaps.then_snapshot_round_trips(), std::logic_error);
    CHECK_THROWS_AS(no_snaps.snapshot_json(), std::logic_error);
    CHECK_THROWS_AS(no_snaps.restart_from_snapshot(), std::logic_error);
  }
  SECTION("a state that does not survive being stored") {
    AggregateFixture t(tally::type(), "t-1");
    t.given(tally::RatioSet{0.5}).then_snapshot_round_trips();
    t.given(tally::RatioSet{std::nan("")});
    auto msg = failure_of([&] { t.then_snapshot_round_trips(); });
    CHECK_THAT(msg, Contains("then_snapshot_round_trips on tally/t-1 at version 2: the snapshot is not valid JSON"));
    CHECK_THAT(msg, Contains("NaN"));
    CHECK_THROWS_AS(t.restart_from_snapshot(), ExpectationFailed);
  }
}

TEST_CASE("testkit: upcasters apply to given events, and emitted events must be at the current version", "[testkit]") {
  annals::Upcasters upcasters;
  tally::add_upcasters(upcasters);
  annals::testkit::Options options;
  options.upcasters = &upcasters;

  AggregateFixture t(tally::type(), "t-1", options);
  t.given_json("renamed", {{"name", "old"}}, 1).given(tally::Renamed{"new"});
  t.then_state([](const tally::Tally& s) { return s.by == std::vector<std::string>{"old", "new"}; });
  CHECK(t.history()[0].schema_version == 1);  // kept as stored
  CHECK(t.history()[1].schema_version == 2);
  t.when(tally::Rename{"newer"}).then_events(tally::Renamed{"newer"});
  t.restart().then_state([](const tally::Tally& s) { return s.by.size() == 3; });
  CHECK_THROWS_WITH(t.given_json("renamed", {{"who", "x"}}, 3), Contains("is newer than this build knows"));

  // Without the upcaster, version 1 data does not decode, and version 2
  // cannot be written (the runtime refuses it too).
  AggregateFixture plain(tally::type(), "t-1");
  CHECK_THROWS_WITH(plain.given_json("renamed", {{"name", "old"}}, 1), Contains("missing field 'who'"));
  CHECK_THROWS_WITH(plain.when(tally::Rename{"x"}),
                    "event 'renamed' is written as schema version 2 but the current version is 1 (set its schema_version)");
  CHECK(plain.version() == 0);
}

// ============================================================================
// ProjectionFixture
// ============================================================================

TEST_CASE("testkit: the projection fixture over bank balances", "[testkit][projection]") {
  ProjectionFixture balances(bank::balances_projection());
  balances.given("account", "acc-1", bank::AccountOpened{"Ada"}, bank::Deposited{100})
    .given_json("account", "acc-2", "opened", {{"owner", "Bob"}})
    .given("account", "acc-1", bank::Withdrawn{30})
    .given("order", "o-1", bank::Deposited{1000});  // another aggregate: skipped

  SECTION("positions are global, versions per stream") {
    CHECK(balances.position() == 5);
    REQUIRE(balances.history().size() == 5);
    std::vector<std::int64_t> positions, versions;
    for (const auto& e : balances.history()) {
      positions.push_back(e.position);
      versions.push_back(e.version);
    }
    CHECK(positions == std::vector<std::int64_t>{1, 2, 3, 4, 5});
    CHECK(versions == std::vector<std::int64_t>{1, 2, 1, 3, 1});
    CHECK(balances.history()[2].stream == annals::StreamId{"account", "acc-2"});
  }
  SECTION("then_query") {
    balances.then_query("balance", {{"id", "acc-1"}},
                        json::parse(R"({"id": "acc-1", "owner": "Ada", "balance": 70, "closed": false})"));
    balances.then_query("total", {}, json::parse(R"({"total": 70, "accounts": 2})"));
    auto msg = failure_of([&] { balances.then_query("total", {}, json::parse(R"({"total": 71, "accounts": 2})")); });
    CHECK_THAT(msg, Contains("then_query(total {}) on projection 'balances' at position 5: differs at total"));
    CHECK_THAT(msg, Contains(R"(expected: {"accounts":2,"total":71})"));
    CHECK_THAT(msg, Contains(R"(actual:   {"accounts":2,"total":70})"));
    msg = failure_of([&] { balances.then_query("balance", {{"id", "x"}}, json::parse(R"({"balance": 0})")); });
    CHECK_THAT(msg, Contains("the query failed") && Contains(R"(expected: {"balance":0})")
                      && Contains("actual:   error not_found: no account 'x'"));
  }
  SECTION("query") {
    auto total = balances.query("total");
    REQUIRE(total);
    CHECK(total->at("total") == 70);
    CHECK(balances.query("nope").error().code == annals::errc::unknown_query);
  }
  SECTION("then_query_error") {
    balances.then_query_error("balance", {{"id", "x"}}, "not_found");
    balances.then_query_error("balance", {{"id", "x"}}, "not_found", "no account 'x'");
    balances.then_query_error("balance", {{"id", 1}}, "invalid_query", "field 'id': expected string, got integer");
    balances.then_query_error("nope", {}, "unknown_query");
    auto msg = failure_of([&] { balances.then_query_error("balance", {{"id", "acc-2"}}, "not_found"); });
    CHECK_THAT(msg, Contains("the query answered") && Contains("expected: error not_found")
                      && Contains(R"(actual:   {"balance":0,"closed":false,"id":"acc-2","owner":"Bob"})"));
    msg = failure_of([&] { balances.then_query_error("balance", {{"id", "x"}}, "invalid_query"); });
    CHECK_THAT(msg, Contains("another error code") && Contains("expected: error invalid_query")
                      && Contains("actual:   error not_found: no account 'x'"));
    msg = failure_of([&] { balances.then_query_error("balance", {{"id", "x"}}, "not_found", "no such"); });
    CHECK_THAT(msg, Contains("another error message") && Contains("message containing \"no such\""));
  }
  SECTION("then_model_json and then_model") {
    const auto model = json::parse(R"({"accounts": {
        "acc-1": {"owner": "Ada", "balance": 70, "closed": false},
        "acc-2": {"owner": "Bob", "balance": 0, "closed": false}}, "total": 70})");
    balances.then_model_json(model).then_model(model);
    CHECK(balances.model_json() == model);
    balances.then_model([](const bank::Balances& m) { return m.accounts.size() == 2 && m.total == 70; });
    CHECK(balances.model<bank::Balances>().accounts.at("acc-1").balance == 70);
    auto msg = failure_of([&] { balances.then_model_json(json::parse(R"({"accounts": {}, "total": 70})")); });
    CHECK_THAT(msg, Contains("then_model_json on projection 'balances' at position 5: differs at accounts.acc-1"));
    CHECK_THAT(msg, Contains(R"(expected: {"accounts":{},"total":70})"));
    CHECK_THAT(msg, Contains(R"(actual:   {"accounts":{"acc-1":{"balance":70,"closed":false,"owner":"Ada"})"));
    msg = failure_of([&] { balances.then_model([](const bank::Balances& m) { return m.total == 0; }); });
    CHECK_THAT(msg, Contains("the predicate returned false") && Contains(R"("total":70)"));
  }
  SECTION("then_model_round_trips") {
    balances.then_model_round_trips({{"balance", {{"id", "acc-1"}}}, {"total", {}}, {"balance", {{"id", "x"}}}});
  }
  SECTION("a handler that throws changes nothing") {
    CHECK_THROWS_WITH(balances.given("account", "acc-1", bank::Deposited{1},
                                     annals::NewEvent{"withdrawn", 1, json::object{{"amount", "lots"}}}),
                      Contains("field 'amount': expected integer, got string"));
    CHECK(balances.position() == 5);
    balances.then_query("total", {}, json::parse(R"({"total": 70, "accounts": 2})"));
    balances.given("account", "acc-1", bank::Deposited{1});
    CHECK(balances.history().back().position == 6);
    CHECK(balances.history().back().version == 4);
  }
}

TEST_CASE("testkit: daily totals with deterministic timestamps", "[testkit][projection]") {
  SECTION("at() places events on days") {
    ProjectionFixture daily(bank::daily_totals_projection());
    daily.at("2026-11-24T09:00:00Z")
      .given("account", "acc-1", bank::AccountOpened{"Ada"}, bank::Deposited{100}, bank::Withdrawn{30})
      .given("account", "acc-2", bank::Deposited{7})
      .at("2026-11-25")
      .given("account", "acc-1", bank::Deposited{5});
    daily.then_query("day", {{"date", "2026-11-24"}},
                     json::parse(R"({"deposits": 2, "deposited": 107, "withdrawals": 1, "withdrawn": 30})"));
    daily.then_query("day", {{"date", "2026-11-25"}},
                     json::parse(R"({"deposits": 1, "deposited": 5, "withdrawals": 0, "withdrawn": 0})"));
    daily.then_query("day", {{"date", "2026-11-26"}},
                     json::parse(R"({"deposits": 0, "deposited": 0, "withdrawals": 0, "withdrawn": 0})"));
    daily.then_query("days", {}, json::parse(R"({
      "2026-11-24": {"deposits": 2, "deposited": 107, "withdrawals": 1, "withdrawn": 30},
      "2026-11-25": {"deposits": 1, "deposited": 5, "withdrawals": 0, "withdrawn": 0}})"));
    daily.then_query_error("day", {}, "invalid_query", "missing field 'date'");
  }
  SECTION("the clock ticks across midnight") {
    annals::testkit::Options options;
    options.start_us = annals::testkit::timestamp_us("2026-11-24T23:59:59Z");
    ProjectionFixture daily(bank::daily_totals_projection(), options);
    daily.given("account", "acc-1", bank::Deposited{1}, bank::Deposited{2});
    daily.then_query("day", {{"date", "2026-11-24"}},
                     json::parse(R"({"deposits": 1, "deposited": 1, "withdrawals": 0, "withdrawn": 0})"));
    daily.then_query("day", {{"date", "2026-11-25"}},
                     json::parse(R"({"deposits": 1, "deposited": 2, "withdrawals": 0, "withdrawn": 0})"));
  }
  SECTION("by default every event is on 2026-01-01") {
    ProjectionFixture daily(bank::daily_totals_projection());
    daily.given("account", "acc-1", bank::Deposited{1}, bank::Withdrawn{1});
    daily.then_model_json(json::parse(R"({"days": {"2026-01-01":
      {"deposits": 1, "deposited": 1, "withdrawals": 1, "withdrawn": 1}}})"));
  }
}

TEST_CASE("testkit: given_event and given_history", "[testkit][projection]") {
  SECTION("a projection fed with an aggregate fixture's history agrees with it") {
    auto acc = account();
    acc.given(bank::AccountOpened{"Ada"});
    acc.when("deposit", {{"amount", 50}}).when("withdraw", {{"amount", 20}}).when("deposit", {{"amount", 1}});
    ProjectionFixture balances(bank::balances_projection());
    balances.given("account", "acc-0", bank::AccountOpened{"Zed"});
    balances.given_history(acc.history());
    CHECK(balances.position() == 5);
    CHECK(balances.history().back().version == 4);
    CHECK(balances.history().back().metadata.causation_id == "command-3");
    balances.then_query("balance", {{"id", "acc-1"}},
                        json::object{{"id", "acc-1"}, {"owner", "Ada"},
                                     {"balance", acc.state<bank::Account>().balance}, {"closed", false}});
  }
  SECTION("a hand-built event: zero fields are assigned, positions must increase") {
    ProjectionFixture balances(bank::balances_projection());
    annals::Event e;
    e.stream = {"account", "acc-1"};
    e.type = "opened";
    e.data = json::object{{"owner", "Ada"}};
    e.metadata.principal = "admin";
    balances.given_event(e);
    CHECK(balances.history()[0].position == 1);
    CHECK(balances.history()[0].version == 1);
    CHECK(balances.history()[0].metadata.timestamp_us == annals::testkit::default_start_us);
    CHECK(balances.history()[0].metadata.principal == "admin");
    e.type = "deposited";
    e.data = json::object{{"amount", 3}};
    e.position = 10;
    e.version = 7;
    e.metadata.timestamp_us = 123;
    balances.given_event(e);
    CHECK(balances.position() == 10);
    CHECK(balances.history()[1].version == 7);
    CHECK(balances.history()[1].metadata.timestamp_us == 123);
    CHECK_THROWS_AS(balances.given_event(e), std::invalid_argument);  // position 10 again
    balances.given("account", "acc-1", bank::Deposited{1});
    CHECK(balances.history().back().position == 11);
    CHECK(balances.history().back().version == 8);
    balances.then_query("total", {}, json::parse(R"({"total": 4, "accounts": 1})"));
  }
}

TEST_CASE("testkit: the projection fixture upcasts old events", "[testkit][projection]") {
  annals::Upcasters upcasters;
  tally::add_upcasters(upcasters);
  annals::testkit::Options options;
  options.upcasters = &upcasters;
  annals::ProjectionType type =
    annals::ProjectionType::define<bank::Balances>("renames")
      .on<tally::Renamed>("tally", [](bank::Balances& m, const tally::Renamed& e, const annals::Event&) {
        m.accounts[e.who].owner = e.who;
      });
  ProjectionFixture p(type, options);
  p.given_json("tally", "t-1", "renamed", {{"name", "old"}}, 1).given("tally", "t-1", tally::Renamed{"new"});
  p.then_model([](const bank::Balances& m) { return m.accounts.count("old") == 1 && m.accounts.count("new") == 1; });
  CHECK(p.history()[0].schema_version == 1);

  ProjectionFixture plain(type);
  CHECK_THROWS_WITH(plain.given_json("tally", "t-1", "renamed", {{"name", "old"}}, 1),
                    Contains("missing field 'who'"));
  CHECK(plain.position() == 0);
}

TEST_CASE("testkit: a rejection with a code the aggregate does not declare fails, naming it and the declared ones",
          "[testkit]") {
  auto typed = annals::AggregateType::define<tally::Tally>("tally")
                 .handle_json("refuse", [](const tally::Tally&, const annals::Command& c) -> annals::Decision {
                   return annals::reject(std::string(c.data.at("code").as_string()), "no");
                 })
                 .rejects("too_many", "more than allowed");
  AggregateFixture f(typed, "t-1");
  f.when("refuse", {{"code", "too_many"}}).then_rejected("too_many");
  f.when("refuse", {{"code", "invalid_command"}}).then_rejected("invalid_command");  // a runtime code
  try {
    f.when("refuse", {{"code", "too_few"}});
    FAIL("an undeclared code was accepted");
  } catch (const annals::testkit::ExpectationFailed& e) {
    CHECK_THAT(e.what(), Catch::Contains("rejected with 'too_few', which aggregate 'tally' does not declare (it declares too_many)"));
  }
  // An aggregate that declares no code is not checked.
  auto undeclared = annals::AggregateType::define<tally::Tally>("tally").handle_json(
    "refuse", [](const tally::Tally&, const annals::Command&) -> annals::Decision { return annals::reject("anything", "no"); });
  AggregateFixture g(undeclared, "t-1");
  g.when("refuse").then_rejected("anything");
}
