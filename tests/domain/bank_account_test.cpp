// The bank "account" aggregate as pure functions: given past events, when a
// command arrives, then these events are decided (or this rejection).

#include <bank/account.hpp>

#include <annals/aggregate_type.hpp>
#include <annals/command.hpp>
#include <annals/decision.hpp>
#include <annals/event.hpp>

#include <catch2/catch.hpp>

#include <any>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace json = annals::json;

namespace {

using EventSpec = std::pair<std::string, json::value>;  // (event type, data)

// Given/when/then over one account stream, "account/acc-1".
class AccountSpec {
public:
  explicit AccountSpec(annals::AggregateType type = bank::account_type())
    : type_(std::move(type)), state_(type_.initial_state()) {}

  /// Past events: committed as versions 1..n of account/acc-1 and applied in order.
  AccountSpec& given(const std::vector<EventSpec>& events) {
    for (const auto& [type, data] : events) {
      annals::Event e;
      e.stream = stream();
      e.version = static_cast<std::int64_t>(history_.size()) + 1;
      e.position = e.version;
      e.type = type;
      e.data = data;
      e.metadata.timestamp_us = 1'700'000'000'000'000 + e.version;
      type_.evolve(state_, e);
      history_.push_back(std::move(e));
    }
    return *this;
  }

  /// A command on account/acc-1, decided against the current state.
  annals::Decision when(const std::string& command, json::object data = {}) const {
    annals::Command c;
    c.aggregate = "account";
    c.id = "acc-1";
    c.command = command;
    c.data = std::move(data);
    return type_.decide(state_, c);
  }

  json::value state() const { return type_.state_to_json(state_); }
  const annals::AggregateType& type() const { return type_; }
  std::any& raw_state() { return state_; }
  static annals::StreamId stream() { return {"account", "acc-1"}; }

private:
  annals::AggregateType type_;
  std::any state_;
  std::vector<annals::Event> history_;
};

// Then: the command was accepted with exactly these events.
void then_emits(const annals::Decision& d, const std::vector<EventSpec>& expected) {
  INFO("rejection: " << d.rejection().code << ": " << d.rejection().message);
  REQUIRE(d.accepted());
  REQUIRE(d.events().size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("event " << i);
    CHECK(d.events()[i].type == expected[i].first);
    CHECK(d.events()[i].schema_version == 1);
    CHECK(json::serialize(d.events()[i].data) == json::serialize(expected[i].second));
  }
}

// Then: the command was rejected with this code; returns the message.
std::string then_rejects(const annals::Decision& d, const std::string& code) {
  REQUIRE_FALSE(d.accepted());
  CHECK(d.events().empty());
  CHECK(d.rejection().code == code);
  return d.rejection().message;
}

const EventSpec opened_by_ada{"opened", json::object{{"owner", "Ada"}}};
EventSpec deposited(std::int64_t amount) { return {"deposited", json::object{{"amount", amount}}}; }
EventSpec withdrawn(std::int64_t amount) { return {"withdrawn", json::object{{"amount", amount}}}; }
const EventSpec closed{"closed", json::object{}};

} // namespace

SCENARIO("bank account: opening a new account", "[bank]") {
  GIVEN("no history") {
    AccountSpec spec;
    WHEN("it is opened without a deposit") {
      auto d = spec.when("open", {{"owner", "Ada"}});
      THEN("only 'opened' is emitted") { then_emits(d, {opened_by_ada}); }
    }
    WHEN("it is opened with an initial deposit") {
      auto d = spec.when("open", {{"owner", "Ada"}, {"initial_deposit", 500}});
      THEN("'opened' and 'deposited' are emitted, in that order") {
        then_emits(d, {opened_by_ada, deposited(500)});
      }
    }
    WHEN("it is opened with an initial deposit of zero") {
      auto d = spec.when("open", {{"owner", "Ada"}, {"initial_deposit", 0}});
      THEN("no deposit event is emitted") { then_emits(d, {opened_by_ada}); }
    }
    WHEN("it is opened with a negative initial deposit") {
      auto d = spec.when("open", {{"owner", "Ada"}, {"initial_deposit", -1}});
      THEN("it is rejected as invalid_amount") { then_rejects(d, "invalid_amount"); }
    }
    WHEN("it is opened with an empty owner") {
      auto d = spec.when("open", {{"owner", ""}});
      THEN("it is rejected as invalid_owner") { then_rejects(d, "invalid_owner"); }
    }
  }
}

SCENARIO("bank account: opening an account twice is rejected", "[bank]") {
  GIVEN("an opened account") {
    AccountSpec spec;
    spec.given({opened_by_ada});
    WHEN("it is opened again") {
      auto d = spec.when("open", {{"owner", "Bob"}});
      THEN("the rejection is already_open") { then_rejects(d, "already_open"); }
    }
  }
}

SCENARIO("bank account: deposits", "[bank]") {
  GIVEN("an account that was never opened") {
    AccountSpec spec;
    WHEN("money is deposited") {
      auto d = spec.when("deposit", {{"amount", 100}});
      THEN("the rejection is account_not_open") { then_rejects(d, "account_not_open"); }
    }
  }
  GIVEN("an open account") {
    AccountSpec spec;
    spec.given({opened_by_ada});
    WHEN("a positive amount is deposited") {
      auto d = spec.when("deposit", {{"amount", 100}});
      THEN("'deposited' is emitted with that amount") { then_emits(d, {deposited(100)}); }
    }
    WHEN("zero is deposited") {
      auto d = spec.when("deposit", {{"amount", 0}});
      THEN("the rejection is invalid_amount") {
        CHECK(then_rejects(d, "invalid_amount") == "amount must be positive, got 0");
      }
    }
    WHEN("a negative amount is deposited") {
      auto d = spec.when("deposit", {{"amount", -25}});
      THEN("the rejection is invalid_amount") {
        CHECK(then_rejects(d, "invalid_amount") == "amount must be positive, got -25");
      }
    }
  }
}

SCENARIO("bank account: withdrawals", "[bank]") {
  GIVEN("an account with a balance of 100") {
    AccountSpec spec;
    spec.given({opened_by_ada, deposited(70), deposited(30)});
    REQUIRE(spec.state().at("balance") == 100);

    WHEN("more than the balance is withdrawn") {
      auto d = spec.when("withdraw", {{"amount", 101}});
      THEN("the rejection is insufficient_funds") {
        CHECK(then_rejects(d, "insufficient_funds") == "balance 100 is less than 101");
      }
    }
    WHEN("exactly the balance is withdrawn") {
      auto d = spec.when("withdraw", {{"amount", 100}});
      THEN("'withdrawn' is emitted") { then_emits(d, {withdrawn(100)}); }
    }
    WHEN("part of the balance is withdrawn and applied") {
      auto d = spec.when("withdraw", {{"amount", 40}});
      then_emits(d, {withdrawn(40)});
      spec.given({withdrawn(40)});
      THEN("the balance is reduced") { CHECK(spec.state().at("balance") == 60); }
      AND_THEN("withdrawing the old balance is now refused") {
        then_rejects(spec.when("withdraw", {{"amount", 100}}), "insufficient_funds");
      }
    }
    WHEN("a non-positive amount is withdrawn") {
      auto d = spec.when("withdraw", {{"amount", 0}});
      THEN("the rejection is invalid_amount") { then_rejects(d, "invalid_amount"); }
    }
  }
}

SCENARIO("bank account: closing", "[bank]") {
  GIVEN("an account with money on it") {
    AccountSpec spec;
    spec.given({opened_by_ada, deposited(5)});
    WHEN("it is closed") {
      auto d = spec.when("close");
      THEN("the rejection is balance_not_zero") {
        CHECK(then_rejects(d, "balance_not_zero") == "withdraw the balance of 5 first");
      }
    }
  }
  GIVEN("an account whose balance went back to zero") {
    AccountSpec spec;
    spec.given({opened_by_ada, deposited(5), withdrawn(5)});
    WHEN("it is closed") {
      auto d = spec.when("close");
      THEN("'closed' is emitted") { then_emits(d, {closed}); }
    }
  }
  GIVEN("a closed account") {
    AccountSpec spec;
    spec.given({opened_by_ada, closed});
    CHECK(spec.state().at("closed") == true);
    WHEN("money is deposited") {
      THEN("the rejection is account_closed") {
        then_rejects(spec.when("deposit", {{"amount", 10}}), "account_closed");
      }
    }
    WHEN("money is withdrawn") {
      THEN("the rejection is account_closed") {
        then_rejects(spec.when("withdraw", {{"amount", 10}}), "account_closed");
      }
    }
    WHEN("it is closed again") {
      THEN("the rejection is account_closed") { then_rejects(spec.when("close"), "account_closed"); }
    }
    WHEN("it is opened again") {
      THEN("the rejection is already_open") {
        then_rejects(spec.when("open", {{"owner", "Ada"}}), "already_open");
      }
    }
  }
}

SCENARIO("bank account: malformed command payloads are invalid_command naming the field", "[bank]") {
  GIVEN("an open account") {
    AccountSpec spec;
    spec.given({opened_by_ada});
    WHEN("the amount is a string") {
      auto d = spec.when("deposit", {{"amount", "100"}});
      THEN("the message names the field and both types") {
        CHECK(then_rejects(d, "invalid_command") == "field 'amount': expected integer, got string");
      }
    }
    WHEN("the amount is missing") {
      auto d = spec.when("withdraw");
      THEN("the message names the missing field") {
        CHECK(then_rejects(d, "invalid_command") == "missing field 'amount'");
      }
    }
    WHEN("the payload has an extra field") {
      auto d = spec.when("deposit", {{"amount", 1}, {"currency", "EUR"}});
      THEN("the message names the unknown field") {
        CHECK(then_rejects(d, "invalid_command") == "unknown field 'currency'");
      }
    }
    WHEN("the optional initial deposit has the wrong type") {
      AccountSpec fresh;
      auto d = fresh.when("open", {{"owner", "Ada"}, {"initial_deposit", true}});
      THEN("the message names it") {
        CHECK(then_rejects(d, "invalid_command") == "field 'initial_deposit': expected integer, got boolean");
      }
    }
  }
}

SCENARIO("bank account: an unknown command type is unknown_command", "[bank]") {
  GIVEN("an open account") {
    AccountSpec spec;
    spec.given({opened_by_ada});
    WHEN("a 'transfer' command arrives") {
      auto d = spec.when("transfer", {{"amount", 1}});
      THEN("it is rejected as unknown_command") {
        CHECK(then_rejects(d, "unknown_command") == "aggregate 'account' has no command 'transfer'");
      }
    }
  }
}

TEST_CASE("bank account: the aggregate type knows its name and command types", "[bank]") {
  auto type = bank::account_type();
  CHECK(type.name() == "account");
  CHECK(type.command_types() == std::set<std::string>{"close", "deposit", "open", "withdraw"});
  CHECK(type.handles("deposit"));
  CHECK_FALSE(type.handles("transfer"));
  CHECK(type.snapshot_every() == 100);
  CHECK(bank::account_type(0).snapshot_every() == 0);
}

TEST_CASE("bank account: replaying history gives the expected state", "[bank]") {
  AccountSpec spec;
  CHECK(json::serialize(spec.state()) == R"({"open":false,"closed":false,"owner":"","balance":0})");
  spec.given({opened_by_ada, deposited(300), withdrawn(120), deposited(20)});
  CHECK(json::serialize(spec.state()) == R"({"open":true,"closed":false,"owner":"Ada","balance":200})");
}

TEST_CASE("bank account: evolving an event type with no handler throws", "[bank]") {
  AccountSpec spec;
  spec.given({opened_by_ada});
  CHECK_THROWS_AS(spec.given({{"frozen", json::object{}}}), std::runtime_error);
  CHECK_THROWS_WITH(spec.given({{"frozen", json::object{}}}),
                    Catch::Contains("no handler for event 'frozen'") && Catch::Contains("account/acc-1"));
  // The state is not changed by the failed evolve.
  CHECK(spec.state().at("balance") == 0);
  CHECK(spec.state().at("open") == true);
}

TEST_CASE("bank account: evolving an event whose data does not decode throws", "[bank]") {
  AccountSpec spec;
  spec.given({opened_by_ada});
  CHECK_THROWS_AS(spec.given({{"deposited", json::object{{"amount", "lots"}}}}), std::runtime_error);
  CHECK_THROWS_WITH(spec.given({{"deposited", json::object{{"amount", "lots"}}}}),
                    Catch::Contains("field 'amount': expected integer, got string"));
}

TEST_CASE("bank account: a snapshot round-trips to an equal state", "[bank][snapshot]") {
  AccountSpec spec;
  spec.given({opened_by_ada, deposited(1234), withdrawn(34)});
  const auto& type = spec.type();

  json::value snap = type.to_snapshot(spec.raw_state());
  CHECK(json::serialize(snap) == R"({"open":true,"closed":false,"owner":"Ada","balance":1200})");

  auto restored = type.from_snapshot(snap);
  REQUIRE(restored.has_value());
  CHECK(type.state_to_json(*restored) == spec.state());

  // The restored state decides like the original.
  annals::Command c;
  c.aggregate = "account";
  c.id = "acc-1";
  c.command = "withdraw";
  c.data = {{"amount", 1201}};
  auto d = type.decide(*restored, c);
  then_rejects(d, "insufficient_funds");
}

TEST_CASE("bank account: a malformed snapshot is an error, not a state", "[bank][snapshot]") {
  auto type = bank::account_type();
  auto bad = type.from_snapshot(json::parse(R"({"open": true, "closed": false, "owner": "Ada"})"));
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message == "missing field 'balance'");
}
