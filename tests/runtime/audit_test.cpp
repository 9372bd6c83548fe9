// The command audit trail: every command's outcome — accepted, replayed,
// rejected, denied, failed — with principal, correlation id and time.

#include "runtime_fixture.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace annals;
using namespace annals::test;

namespace {

Command by(Command c, const std::string& principal, const std::string& correlation = "") {
  c.metadata.principal = principal;
  c.metadata.correlation_id = correlation;
  return c;
}

struct Nothing {};

AggregateType faulty_type() {
  return AggregateType::define<Nothing>("faulty").handle_json(
    "boom", [](const Nothing&, const Command&) -> Decision { throw std::runtime_error("bug"); });
}

// A command that is accepted and causes no events.
AggregateType quiet_type() {
  return AggregateType::define<Nothing>("quiet").handle_json(
    "touch", [](const Nothing&, const Command&) -> Decision { return Decision::accept(); });
}

} // namespace

SCENARIO_METHOD(RuntimeFixture, "a command that causes no events but has an idempotency key is audited once as "
                                "accepted, and each retry once as replayed") {
  GIVEN("a runtime with an aggregate whose command causes no events") {
    Command touch;
    touch.aggregate = "quiet";
    touch.id = "q-1";
    touch.command = "touch";
    touch.idempotency_key = "touch-1";
    touch.metadata.principal = "alice";
    WHEN("the command is sent with a key, then retried twice with the same key") {
      {
        auto rt = bank_runtime(options());
        rt->register_aggregate(quiet_type());
        auto first = rt->execute(touch);
        REQUIRE(first.accepted());
        REQUIRE(first.events.empty());
        REQUIRE_FALSE(first.replayed);
        REQUIRE(rt->execute(touch).replayed);
        REQUIRE(rt->execute(touch).replayed);
      }  // shutting down writes what the journal still held
      THEN("the trail has one accepted line for it and one replayed line per retry") {
        std::vector<std::string> outcomes;
        for (const auto& r : bank_runtime(options())->audit_log())
          if (r.command == "touch") outcomes.push_back(r.outcome);
        std::sort(outcomes.begin(), outcomes.end());
        CHECK(outcomes == std::vector<std::string>{"accepted", "replayed", "replayed"});
      }
    }
  }
}

TEST_CASE_METHOD(RuntimeFixture, "every command's outcome is in the audit trail") {
  auto o = options();
  o.authorize = [](const std::string& principal, const Command&) {
    return principal == "mallory" ? AuthDecision::deny("mallory is blocked") : AuthDecision::allow();
  };
  const auto before = now_us();
  {
    auto rt = bank_runtime(o);
    rt->register_aggregate(faulty_type());
    auto opened = rt->execute(by(open_account("acc-1"), "alice", "corr-1"));
    REQUIRE(opened.accepted());
    REQUIRE(rt->execute(by(deposit("acc-1", 5, "key-1"), "alice")).accepted());
    REQUIRE(rt->execute(by(deposit("acc-1", 5, "key-1"), "alice")).replayed);
    REQUIRE(rt->execute(by(withdraw("acc-1", 100), "bob")).code() == "insufficient_funds");
    REQUIRE(rt->execute(by(withdraw("acc-1", 1), "mallory")).code() == errc::forbidden);
    Command boom;
    boom.aggregate = "faulty";
    boom.id = "f-1";
    boom.command = "boom";
    boom.metadata.principal = "carol";
    REQUIRE(rt->execute(boom).failed());
    REQUIRE(rt->execute_json("{oops").code() == errc::invalid_command);

    // An accepted command's line is written with its events: there already.
    auto now = rt->audit_log();
    REQUIRE(now.size() >= 2);
    CHECK(now[0].outcome == "accepted");
    CHECK(now[0].principal == "alice");
    CHECK(now[0].correlation_id == "corr-1");
    CHECK(now[0].command_id == opened.events[0].metadata.causation_id);
    CHECK(now[0].position == opened.position);
  }
  // Shutting down writes what the journal still held.
  auto rt = bank_runtime(o);
  auto trail = rt->audit_log();
  REQUIRE(trail.size() == 7);
  std::vector<std::string> outcomes;
  for (const auto& r : trail) outcomes.push_back(r.outcome);
  // Accepted lines are written at commit; the others a little later, in order among themselves.
  std::sort(outcomes.begin(), outcomes.end());
  CHECK(outcomes == std::vector<std::string>{"accepted", "accepted", "denied", "failed", "rejected", "rejected",
                                             "replayed"});
  for (const auto& r : trail) {
    CHECK(r.at_us >= before);
    CHECK(r.id > 0);
    if (r.outcome == "denied") {
      CHECK(r.principal == "mallory");
      CHECK(r.code == errc::forbidden);
      CHECK(r.message == "mallory is blocked");
      CHECK(r.stream.to_string() == "account/acc-1");
      CHECK(r.command == "withdraw");
    }
    if (r.outcome == "failed") {
      CHECK(r.principal == "carol");
      CHECK(r.code == errc::internal_error);
    }
    if (r.outcome == "replayed") CHECK(r.position == trail[1].position);
  }
  for (std::size_t i = 1; i < trail.size(); ++i) CHECK(trail[i].id > trail[i - 1].id);
}

TEST_CASE_METHOD(RuntimeFixture, "the audit trail can be turned off") {
  auto o = options();
  o.audit = false;
  {
    auto rt = bank_runtime(o);
    REQUIRE(rt->execute(open_account("acc-1")).accepted());
    REQUIRE(rt->execute(withdraw("acc-1", 1)).rejected());
  }
  CHECK(bank_runtime(o)->audit_log().empty());
}
