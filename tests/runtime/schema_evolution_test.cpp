// Event schema evolution: events written as v1, the domain moved to v2 with an
// upcaster; aggregates and projections recover the v2 state. A version no
// upcaster knows is an error that names the event.

#include "runtime_fixture.hpp"
#include "test_projections.hpp"

#include <catch2/catch.hpp>

using namespace annals;
using namespace annals::test;

namespace {

// Version 2 of the account: amounts in cents.
struct AccountV2 {
  bool open = false;
  std::int64_t cents = 0;
};
BOOST_DESCRIBE_STRUCT(AccountV2, (), (open, cents))

struct DepositV2 {
  static constexpr const char* command_type = "deposit";
  std::int64_t amount_cents = 0;
};
BOOST_DESCRIBE_STRUCT(DepositV2, (), (amount_cents))

struct DepositedV2 {
  static constexpr const char* event_type = "deposited";
  static constexpr int schema_version = 2;
  std::int64_t amount_cents = 0;
};
BOOST_DESCRIBE_STRUCT(DepositedV2, (), (amount_cents))

AggregateType account_v2() {
  return AggregateType::define<AccountV2>("account")
    .handle<DepositV2>([](const AccountV2&, const DepositV2& c) { return emit(DepositedV2{c.amount_cents}); })
    .apply<bank::AccountOpened>([](AccountV2& s, const bank::AccountOpened&) { s.open = true; })
    .apply<DepositedV2>([](AccountV2& s, const DepositedV2& e) { s.cents += e.amount_cents; });
}

ProjectionType cents_projection() {
  return ProjectionType::define<Sums>("cents")
    .on<DepositedV2>("account", [](Sums& m, const DepositedV2& e, const Event&) { m.total += e.amount_cents; })
    .query("total", [](const Sums& m, const json::object&) -> Expected<json::value> { return json::value(m.total); });
}

json::value dollars_to_cents(json::value v) {
  auto& o = v.as_object();
  o["amount_cents"] = o.at("amount").as_int64() * 100;
  o.erase("amount");
  return v;
}

Command deposit_cents(const std::string& id, std::int64_t cents) {
  return account_command(id, "deposit", {{"amount_cents", cents}});
}

} // namespace

SCENARIO_METHOD(RuntimeFixture, "events written as v1 are read as v2 through an upcaster") {
  GIVEN("an account with v1 deposits of 5 and 7") {
    {
      auto v1 = bank_runtime(options(), 0);
      REQUIRE(v1->execute(open_account("acc")).accepted());
      REQUIRE(v1->execute(deposit("acc", 5)).accepted());
      REQUIRE(v1->execute(deposit("acc", 7)).accepted());
    }
    WHEN("a runtime with the v2 domain and the v1->v2 upcaster recovers it") {
      Runtime rt(options());
      rt.register_upcaster("account", "deposited", 1, dollars_to_cents);
      rt.register_aggregate(account_v2());
      rt.register_projection(cents_projection());
      THEN("the aggregate and the projection see the v2 shape") {
        auto st = rt.inspect("account", "acc");
        REQUIRE(st);
        CHECK(st->state.at("cents").as_int64() == 1200);
        REQUIRE(caught_up(rt, "cents"));
        CHECK(*rt.query("cents", "total") == json::value(1200));
      }
      AND_THEN("new events are written as v2 and a mixed stream recovers") {
        auto r = rt.execute(deposit_cents("acc", 50));
        REQUIRE(r.accepted());
        auto stored = rt.read_stream({"account", "acc"});
        REQUIRE(stored.size() == 4);
        CHECK(stored[1].schema_version == 1);  // the store keeps what was written
        CHECK(stored[3].schema_version == 2);
        REQUIRE(caught_up(rt, "cents"));
        CHECK(*rt.query("cents", "total") == json::value(1250));
      }
    }
  }
}

TEST_CASE_METHOD(RuntimeFixture, "a stored event version no upcaster knows is an error naming the event") {
  {
    auto v1 = bank_runtime(options(), 0);
    REQUIRE(v1->execute(open_account("acc")).accepted());
    REQUIRE(v1->execute(deposit("acc", 5)).accepted());
  }
  auto o = options();
  o.projections.max_attempts = 1;
  Runtime rt(o);
  // Only 2 -> 3 is known: stored v1 events cannot be brought forward.
  rt.register_upcaster("account", "deposited", 2, [](json::value v) { return v; });
  rt.register_aggregate(account_v2());
  rt.register_projection(cents_projection());

  auto r = rt.execute(deposit_cents("acc", 1));
  CHECK(r.failed());
  CHECK(r.code() == errc::internal_error);
  CHECK(r.error->message.find("event 2 (deposited v1) of account/acc") != std::string::npos);
  CHECK(r.error->message.find("no upcaster from schema version 1") != std::string::npos);

  REQUIRE(eventually([&] { return rt.dead_letters("cents").size() == 1; }));
  CHECK(rt.dead_letters("cents")[0].error.find("no upcaster from schema version 1") != std::string::npos);
}

TEST_CASE_METHOD(RuntimeFixture, "a domain that writes an outdated event schema version is refused") {
  auto rt = bank_runtime(options(), 0);
  rt->register_upcaster("account", "deposited", 1, dollars_to_cents);
  REQUIRE(rt->execute(open_account("acc")).accepted());
  auto r = rt->execute(deposit("acc", 5));  // the v1 domain still emits deposited v1
  CHECK(r.failed());
  CHECK(r.error->message.find("written as schema version 1 but the current version is 2") != std::string::npos);
  CHECK(rt->read_stream({"account", "acc"}).size() == 1);
}
