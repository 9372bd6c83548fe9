// Who may send which command: one policy for every entry point; a denied
// command gets a distinct error and changes nothing.

#include "runtime_fixture.hpp"

#include <catch2/catch.hpp>

using namespace annals;
using namespace annals::test;

namespace {

Command as(Command c, const std::string& principal) {
  c.metadata.principal = principal;
  return c;
}

} // namespace

SCENARIO_METHOD(RuntimeFixture, "an authorization policy decides before the aggregate sees the command") {
  GIVEN("tellers may do anything up to 1000, viewers nothing") {
    auto o = options();
    o.authorize = [](const std::string& principal, const Command& c) {
      if (principal == "viewer") return AuthDecision::deny("viewers may not send commands");
      if (principal == "teller") {
        auto amount = c.data.if_contains("amount");
        if (amount && amount->is_int64() && amount->as_int64() > 1000)
          return AuthDecision::deny("tellers may move at most 1000");
        return AuthDecision::allow();
      }
      return AuthDecision::deny("unknown principal '" + principal + "'");
    };
    auto rt = bank_runtime(o);
    REQUIRE(rt->execute(as(open_account("acc-1"), "teller")).accepted());
    const auto before = stored_events();

    WHEN("a viewer deposits") {
      auto r = rt->execute(as(deposit("acc-1", 5), "viewer"));
      THEN("it is rejected as forbidden and nothing changes") {
        CHECK(r.rejected());
        CHECK(r.code() == errc::forbidden);
        CHECK(r.error->message == "viewers may not send commands");
        CHECK(stored_events() == before);
      }
    }
    WHEN("a teller deposits too much, through the JSON entry point") {
      auto r = rt->execute_json(
        R"({"aggregate":"account","id":"acc-1","command":"deposit","data":{"amount":5000},"metadata":{"principal":"teller"}})");
      THEN("the policy saw the data and denied it") {
        CHECK(r.code() == errc::forbidden);
        CHECK(r.error->message == "tellers may move at most 1000");
        CHECK(stored_events() == before);
      }
    }
    WHEN("a teller deposits within the limit, asynchronously") {
      auto r = rt->execute_async(as(deposit("acc-1", 500), "teller")).get();
      THEN("it is accepted") {
        CHECK(r.accepted());
        CHECK(stored_events() == before + 1);
      }
    }
    WHEN("no principal is given") {
      THEN("the policy denies it") { CHECK(rt->execute(deposit("acc-1", 1)).code() == errc::forbidden); }
    }
  }
}

TEST_CASE_METHOD(RuntimeFixture, "a policy that throws denies the command") {
  auto o = options();
  o.authorize = [](const std::string&, const Command&) -> AuthDecision { throw std::runtime_error("ldap down"); };
  auto rt = bank_runtime(o);
  auto r = rt->execute(open_account("acc-1"));
  CHECK(r.code() == errc::forbidden);
  CHECK(r.error->message.find("ldap down") != std::string::npos);
  CHECK(stored_events() == 0);
}
