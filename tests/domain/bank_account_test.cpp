// The bank "account" aggregate as pure functions, with annals::testkit:
// given past events, when a command arrives, then these events are decided
// (or this rejection, or this state).

#include <bank/account.hpp>

#include <annals/aggregate_type.hpp>
#include <annals/testkit.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>

namespace json = annals::json;
using annals::testkit::AggregateFixture;

namespace {

// One account stream, "account/acc-1", with no history.
AggregateFixture account_fixture() { return AggregateFixture(bank::account_type(), "acc-1"); }

const bank::AccountOpened opened_by_ada{"Ada"};

} // namespace

SCENARIO("bank account: opening a new account", "[bank]") {
  GIVEN("no history") {
    auto account = account_fixture();
    WHEN("it is opened without a deposit") {
      account.when("open", {{"owner", "Ada"}});
      THEN("only 'opened' is emitted") { account.then_events(opened_by_ada); }
    }
    WHEN("it is opened with an initial deposit") {
      account.when(bank::OpenAccount{"Ada", 500});
      THEN("'opened' and 'deposited' are emitted, in that order") {
        account.then_events(opened_by_ada, bank::Deposited{500});
      }
      AND_THEN("the account is open with that balance") {
        account.then_state(bank::Account{true, false, "Ada", 500});
      }
    }
    WHEN("it is opened with an initial deposit of zero") {
      account.when("open", {{"owner", "Ada"}, {"initial_deposit", 0}});
      THEN("no deposit event is emitted") { account.then_events(opened_by_ada); }
    }
    WHEN("it is opened with a negative initial deposit") {
      account.when("open", {{"owner", "Ada"}, {"initial_deposit", -1}});
      THEN("it is rejected as invalid_amount") { account.then_rejected("invalid_amount"); }
    }
    WHEN("it is opened with an empty owner") {
      account.when("open", {{"owner", ""}});
      THEN("it is rejected as invalid_owner") { account.then_rejected("invalid_owner"); }
    }
  }
}

SCENARIO("bank account: opening an account twice is rejected", "[bank]") {
  GIVEN("an opened account") {
    auto account = account_fixture();
    account.given(opened_by_ada);
    WHEN("it is opened again") {
      account.when("open", {{"owner", "Bob"}});
      THEN("the rejection is already_open") { account.then_rejected("already_open"); }
    }
  }
}

SCENARIO("bank account: deposits", "[bank]") {
  GIVEN("an account that was never opened") {
    auto account = account_fixture();
    WHEN("money is deposited") {
      account.when("deposit", {{"amount", 100}});
      THEN("the rejection is account_not_open") { account.then_rejected("account_not_open"); }
    }
  }
  GIVEN("an open account") {
    auto account = account_fixture();
    account.given(opened_by_ada);
    WHEN("a positive amount is deposited") {
      account.when(bank::Deposit{100});
      THEN("'deposited' is emitted with that amount") { account.then_events(bank::Deposited{100}); }
    }
    WHEN("zero is deposited") {
      account.when("deposit", {{"amount", 0}});
      THEN("the rejection is invalid_amount") {
        account.then_rejected("invalid_amount");
        CHECK(account.rejection()->message == "amount must be positive, got 0");
      }
    }
    WHEN("a negative amount is deposited") {
      account.when("deposit", {{"amount", -25}});
      THEN("the rejection is invalid_amount") {
        account.then_rejected("invalid_amount");
        CHECK(account.rejection()->message == "amount must be positive, got -25");
      }
    }
  }
}

SCENARIO("bank account: a balance cannot overflow", "[bank]") {
  constexpr std::int64_t largest = std::numeric_limits<std::int64_t>::max();
  GIVEN("an open account that received a huge deposit") {
    auto account = account_fixture();
    const std::int64_t huge = largest / 2 + 1;
    account.given(opened_by_ada, bank::Deposited{huge});
    WHEN("the same huge amount is deposited again") {
      account.when(bank::Deposit{huge});
      THEN("it is rejected as balance_overflow and the balance stays as it was") {
        account.then_rejected("balance_overflow");
        CHECK(account.rejection()->message
              == "a deposit of " + std::to_string(huge) + " to the balance of " + std::to_string(huge)
                   + " would exceed the largest balance, " + std::to_string(largest));
        account.then_state(bank::Account{true, false, "Ada", huge});
      }
    }
    WHEN("exactly what is left up to the largest balance is deposited") {
      account.when(bank::Deposit{largest - huge});
      THEN("it is accepted") { account.then_events(bank::Deposited{largest - huge}); }
    }
  }
}

SCENARIO("bank account: withdrawals", "[bank]") {
  GIVEN("an account with a balance of 100") {
    auto account = account_fixture();
    account.given(opened_by_ada, bank::Deposited{70}, bank::Deposited{30});
    REQUIRE(account.state<bank::Account>().balance == 100);

    WHEN("more than the balance is withdrawn") {
      account.when("withdraw", {{"amount", 101}});
      THEN("the rejection is insufficient_funds") {
        account.then_rejected("insufficient_funds");
        CHECK(account.rejection()->message == "balance 100 is less than 101");
      }
    }
    WHEN("exactly the balance is withdrawn") {
      account.when("withdraw", {{"amount", 100}});
      THEN("'withdrawn' is emitted") { account.then_events(bank::Withdrawn{100}); }
    }
    WHEN("part of the balance is withdrawn (and so applied)") {
      account.when(bank::Withdraw{40}).then_events(bank::Withdrawn{40});
      THEN("the balance is reduced") {
        account.then_state([](const bank::Account& s) { return s.balance == 60; });
      }
      AND_THEN("withdrawing the old balance is now refused") {
        account.when("withdraw", {{"amount", 100}}).then_rejected("insufficient_funds");
      }
    }
    WHEN("a non-positive amount is withdrawn") {
      account.when("withdraw", {{"amount", 0}});
      THEN("the rejection is invalid_amount") { account.then_rejected("invalid_amount"); }
    }
  }
}

SCENARIO("bank account: closing", "[bank]") {
  GIVEN("an account with money on it") {
    auto account = account_fixture();
    account.given(opened_by_ada, bank::Deposited{5});
    WHEN("it is closed") {
      account.when("close");
      THEN("the rejection is balance_not_zero") {
        account.then_rejected("balance_not_zero");
        CHECK(account.rejection()->message == "withdraw the balance of 5 first");
      }
    }
  }
  GIVEN("an account whose balance went back to zero") {
    auto account = account_fixture();
    account.given(opened_by_ada, bank::Deposited{5}, bank::Withdrawn{5});
    WHEN("it is closed") {
      account.when(bank::CloseAccount{});
      THEN("'closed' is emitted") { account.then_events(bank::AccountClosed{}); }
    }
  }
  GIVEN("a closed account") {
    auto account = account_fixture();
    account.given(opened_by_ada, bank::AccountClosed{});
    CHECK(account.state<bank::Account>().closed);
    WHEN("money is deposited") {
      THEN("the rejection is account_closed") {
        account.when("deposit", {{"amount", 10}}).then_rejected("account_closed");
      }
    }
    WHEN("money is withdrawn") {
      THEN("the rejection is account_closed") {
        account.when("withdraw", {{"amount", 10}}).then_rejected("account_closed");
      }
    }
    WHEN("it is closed again") {
      THEN("the rejection is account_closed") { account.when("close").then_rejected("account_closed"); }
    }
    WHEN("it is opened again") {
      THEN("the rejection is already_open") {
        account.when("open", {{"owner", "Ada"}}).then_rejected("already_open");
      }
    }
  }
}

SCENARIO("bank account: malformed command payloads are invalid_command naming the field", "[bank]") {
  GIVEN("an open account") {
    auto account = account_fixture();
    account.given(opened_by_ada);
    WHEN("the amount is a string") {
      account.when("deposit", {{"amount", "100"}});
      THEN("the message names the field and both types") {
        account.then_rejected("invalid_command");
        CHECK(account.rejection()->message == "field 'amount': expected integer, got string");
      }
    }
    WHEN("the amount is missing") {
      account.when("withdraw");
      THEN("the message names the missing field") {
        account.then_rejected("invalid_command");
        CHECK(account.rejection()->message == "missing field 'amount'");
      }
    }
    WHEN("the payload has an extra field") {
      account.when("deposit", {{"amount", 1}, {"currency", "EUR"}});
      THEN("the message names the unknown field") {
        account.then_rejected("invalid_command");
        CHECK(account.rejection()->message == "unknown field 'currency'");
      }
    }
    WHEN("the optional initial deposit has the wrong type") {
      auto fresh = account_fixture();
      fresh.when("open", {{"owner", "Ada"}, {"initial_deposit", true}});
      THEN("the message names it") {
        fresh.then_rejected("invalid_command");
        CHECK(fresh.rejection()->message == "field 'initial_deposit': expected integer, got boolean");
      }
    }
  }
}

SCENARIO("bank account: an unknown command type is unknown_command", "[bank]") {
  GIVEN("an open account") {
    auto account = account_fixture();
    account.given(opened_by_ada);
    WHEN("a 'transfer' command arrives") {
      account.when("transfer", {{"amount", 1}});
      THEN("it is rejected as unknown_command") {
        account.then_rejected("unknown_command");
        CHECK(account.rejection()->message == "aggregate 'account' has no command 'transfer'");
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
  auto account = account_fixture();
  account.then_state_json(json::parse(R"({"open":false,"closed":false,"owner":"","balance":0})"));
  account.given(opened_by_ada, bank::Deposited{300}, bank::Withdrawn{120}, bank::Deposited{20});
  const auto expected = json::parse(R"({"open":true,"closed":false,"owner":"Ada","balance":200})");
  account.then_state_json(expected);
  // Replaying the same history from scratch (a reactivation) gives the same state.
  account.restart().then_state_json(expected);
}

TEST_CASE("bank account: evolving an event type with no handler throws", "[bank]") {
  auto account = account_fixture();
  account.given(opened_by_ada);
  CHECK_THROWS_AS(account.given_json("frozen"), std::runtime_error);
  CHECK_THROWS_WITH(account.given_json("frozen"),
                    Catch::Contains("no handler for event 'frozen'") && Catch::Contains("account/acc-1"));
  // The state is not changed by the failed evolve, and no event was added.
  account.then_state([](const bank::Account& s) { return s.balance == 0 && s.open; });
  CHECK(account.version() == 1);
}

TEST_CASE("bank account: evolving an event whose data does not decode throws", "[bank]") {
  auto account = account_fixture();
  account.given(opened_by_ada);
  CHECK_THROWS_AS(account.given_json("deposited", {{"amount", "lots"}}), std::runtime_error);
  CHECK_THROWS_WITH(account.given_json("deposited", {{"amount", "lots"}}),
                    Catch::Contains("field 'amount': expected integer, got string"));
}

TEST_CASE("bank account: a snapshot round-trips to an equal state", "[bank][snapshot]") {
  auto account = account_fixture();
  account.given(opened_by_ada, bank::Deposited{1234}, bank::Withdrawn{34});
  CHECK(json::serialize(account.snapshot_json()) == R"({"open":true,"closed":false,"owner":"Ada","balance":1200})");
  account.then_snapshot_round_trips();

  // The restored state decides like the original.
  account.restart_from_snapshot();
  account.then_state_json(json::parse(R"({"open":true,"closed":false,"owner":"Ada","balance":1200})"));
  account.when("withdraw", {{"amount", 1201}}).then_rejected("insufficient_funds");
}

TEST_CASE("bank account: a malformed snapshot is an error, not a state", "[bank][snapshot]") {
  auto type = bank::account_type();
  auto bad = type.from_snapshot(json::parse(R"({"open": true, "closed": false, "owner": "Ada"})"));
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message == "missing field 'balance'");
}
