// G3: a command repeated with the same idempotency key appends nothing and
// returns the first result, also after a restart.

#include "runtime_fixture.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

using namespace annals;
using namespace annals::test;

namespace {

void require_same_result(const CommandResult& first, const CommandResult& again) {
  REQUIRE(again.accepted());
  CHECK(again.replayed);
  CHECK_FALSE(first.replayed);
  CHECK(again.version == first.version);
  CHECK(again.position == first.position);
  REQUIRE(again.events.size() == first.events.size());
  for (std::size_t i = 0; i < first.events.size(); ++i) {
    CHECK(again.events[i].position == first.events[i].position);
    CHECK(again.events[i].type == first.events[i].type);
    CHECK(again.events[i].data == first.events[i].data);
  }
}

} // namespace

SCENARIO_METHOD(RuntimeFixture, "G3 the same idempotency key twice returns the first result and appends nothing") {
  GIVEN("an open account") {
    auto rt = bank_runtime();
    REQUIRE(rt->execute(open_account("acc-1")).accepted());
    WHEN("a deposit is sent twice with the same key") {
      auto first = rt->execute(deposit("acc-1", 50, "pay-1"));
      auto again = rt->execute(deposit("acc-1", 50, "pay-1"));
      THEN("one event exists and the repeat returns the first result") {
        REQUIRE(first.accepted());
        require_same_result(first, again);
        CHECK(rt->read_stream({"account", "acc-1"}).size() == 2);
        CHECK(balance(*rt, "acc-1") == 50);
      }
    }
    WHEN("the repeat comes after other commands changed the account") {
      auto first = rt->execute(deposit("acc-1", 50, "pay-2"));
      REQUIRE(rt->execute(withdraw("acc-1", 50)).accepted());
      auto again = rt->execute(deposit("acc-1", 50, "pay-2"));
      THEN("it still returns the first result, not a new deposit") {
        require_same_result(first, again);
        CHECK(balance(*rt, "acc-1") == 0);
      }
    }
  }
}

TEST_CASE_METHOD(RuntimeFixture, "G3 an idempotency key is honoured after a restart of the runtime") {
  CommandResult first;
  {
    auto rt = bank_runtime();
    REQUIRE(rt->execute(open_account("acc-r")).accepted());
    first = rt->execute(deposit("acc-r", 70, "restart-key"));
    REQUIRE(first.accepted());
  }
  auto rt = bank_runtime();
  auto again = rt->execute(deposit("acc-r", 70, "restart-key"));
  require_same_result(first, again);
  CHECK(stored_events() == 2);
  CHECK(balance(*rt, "acc-r") == 70);
}

TEST_CASE_METHOD(RuntimeFixture, "G3 a key reused for a different command is rejected with idempotency_conflict") {
  auto rt = bank_runtime();
  REQUIRE(rt->execute(open_account("acc-1")).accepted());
  REQUIRE(rt->execute(open_account("acc-2")).accepted());
  REQUIRE(rt->execute(deposit("acc-1", 10, "k")).accepted());
  const auto before = stored_events();

  auto other_amount = rt->execute(deposit("acc-1", 11, "k"));
  CHECK(other_amount.rejected());
  CHECK(other_amount.code() == errc::idempotency_conflict);

  auto other_account = rt->execute(deposit("acc-2", 10, "k"));
  CHECK(other_account.code() == errc::idempotency_conflict);
  CHECK(other_account.error->message.find("account/acc-1") != std::string::npos);
  CHECK(stored_events() == before);
}

TEST_CASE_METHOD(RuntimeFixture, "G3 concurrent retries with one key from many threads commit once") {
  auto rt = bank_runtime();
  REQUIRE(rt->execute(open_account("acc-c")).accepted());
  std::atomic<int> fresh{0}, replays{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        auto r = rt->execute(deposit("acc-c", 25, "once"));
        if (r.accepted() && !r.replayed) ++fresh;
        else if (r.accepted()) ++replays;
        else ++other;
      }
    });
  for (auto& th : threads) th.join();
  CHECK(fresh == 1);
  CHECK(replays == 39);
  CHECK(other == 0);
  CHECK(balance(*rt, "acc-c") == 25);
}

TEST_CASE_METHOD(RuntimeFixture, "G3 one key sent to two aggregates at once: one commits, the other is a conflict") {
  // The key check before deciding cannot see an append still in flight for
  // another aggregate; the journal's check in the transaction must catch it.
  for (int round = 0; round < 20; ++round) {
    auto rt = bank_runtime();
    const std::string a = "race-a-" + std::to_string(round), b = "race-b-" + std::to_string(round);
    REQUIRE(rt->execute(open_account(a)).accepted());
    REQUIRE(rt->execute(open_account(b)).accepted());
    const std::string key = "shared-" + std::to_string(round);
    auto fa = rt->execute_async(deposit(a, 5, key));
    auto fb = rt->execute_async(deposit(b, 5, key));
    auto ra = fa.get(), rb = fb.get();
    INFO(json::serialize(ra.to_json()) << "\n" << json::serialize(rb.to_json()));
    CHECK(ra.accepted() + rb.accepted() == 1);
    CHECK((ra.code() == errc::idempotency_conflict || rb.code() == errc::idempotency_conflict));
    CHECK(balance(*rt, a) + balance(*rt, b) == 5);
  }
}
