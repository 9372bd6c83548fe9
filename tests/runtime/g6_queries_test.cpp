// G6: queries are side-effect free; with min_position they reflect at least
// that write.

#include "runtime_fixture.hpp"
#include "test_projections.hpp"

#include <bank/projections.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <thread>

using namespace annals;
using namespace annals::test;

TEST_CASE_METHOD(RuntimeFixture, "G6 a query with the position of a just-acknowledged command sees that write") {
  auto rt = bank_runtime();
  // A slow projection: reads without min_position may lag behind it.
  rt->register_projection(sums("slow", [](const Event&) { std::this_thread::sleep_for(std::chrono::milliseconds(2)); }));
  REQUIRE(rt->execute(open_account("acc-1")).accepted());
  std::vector<std::future<CommandResult>> fs;
  for (int i = 1; i <= 60; ++i) fs.push_back(rt->execute_async(deposit("acc-1", i)));
  std::int64_t last = 0;
  for (auto& f : fs) {
    auto r = f.get();
    REQUIRE(r.accepted());
    last = std::max(last, r.position);
  }
  auto total = rt->query("slow", "total", {}, last);
  REQUIRE(total);
  CHECK(*total == json::value(60 * 61 / 2));
}

SCENARIO_METHOD(RuntimeFixture, "G6 without min_position a read may be stale, with it it waits or times out clearly") {
  auto fixed = std::make_shared<std::atomic<bool>>(false);
  auto o = options();
  o.projections.initial_backoff = std::chrono::milliseconds(20);
  o.projections.max_backoff = std::chrono::milliseconds(20);
  o.projections.max_attempts = 1000000;  // never parks: the projection is stuck until fixed
  auto rt = bank_runtime(o);
  rt->register_projection(sums("stuck", [fixed](const Event& e) {
    if (e.data.at("amount").as_int64() == 13 && !*fixed) throw std::runtime_error("not yet");
  }));
  REQUIRE(rt->execute(open_account("acc-1")).accepted());
  REQUIRE(rt->execute(deposit("acc-1", 7)).accepted());
  REQUIRE(rt->execute(deposit("acc-1", 13)).accepted());
  auto last = rt->execute(deposit("acc-1", 5));
  REQUIRE(last.accepted());
  WHEN("the projection is stuck before the write") {
    THEN("a plain query answers with the old state") {
      REQUIRE(eventually([&] {
        auto r = rt->query("stuck", "total");
        return r && *r == json::value(7);
      }));
      CHECK(*rt->query("stuck", "total") == json::value(7));
    }
    THEN("a query with the write's position times out with a clear error") {
      auto r = rt->query("stuck", "total", {}, last.position, std::chrono::milliseconds(300));
      REQUIRE_FALSE(r);
      CHECK(r.error().code == errc::timeout);
      CHECK(r.error().message.find("not " + std::to_string(last.position)) != std::string::npos);
    }
    AND_WHEN("the projection recovers") {
      *fixed = true;
      THEN("the query with the write's position sees it") {
        auto r = rt->query("stuck", "total", {}, last.position, std::chrono::seconds(10));
        REQUIRE(r);
        CHECK(*r == json::value(25));
      }
    }
  }
}

TEST_CASE_METHOD(RuntimeFixture, "G6 queries never change the read model") {
  auto rt = bank_runtime();
  rt->register_projection(bank::balances_projection());
  rt->register_projection(sums("sums"));
  for (int a = 0; a < 5; ++a) {
    REQUIRE(rt->execute(open_account("acc-" + std::to_string(a))).accepted());
    REQUIRE(rt->execute(deposit("acc-" + std::to_string(a), 10 * (a + 1))).accepted());
  }
  REQUIRE(caught_up(*rt, "balances"));
  REQUIRE(caught_up(*rt, "sums"));
  const auto before = *rt->query("sums", "dump");
  const auto accounts_before = *rt->query("balances", "accounts");
  const auto checkpoint = rt->projection_status("balances")->checkpoint;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        (void)rt->query("balances", "balance", {{"id", "acc-" + std::to_string((t + i) % 5)}});
        (void)rt->query("balances", "total");
        (void)rt->query("sums", "dump");
      }
    });
  for (auto& th : threads) th.join();
  CHECK(*rt->query("sums", "dump") == before);
  CHECK(*rt->query("balances", "accounts") == accounts_before);
  CHECK(rt->projection_status("balances")->checkpoint == checkpoint);
  CHECK(rt->head_position() == checkpoint);
}

TEST_CASE_METHOD(RuntimeFixture, "G6 bad queries get clear errors") {
  auto rt = bank_runtime();
  rt->register_projection(bank::balances_projection());
  REQUIRE(rt->execute(open_account("acc-1", "Ada")).accepted());
  REQUIRE(caught_up(*rt, "balances"));
  CHECK(rt->query("nope", "total").error().code == errc::unknown_projection);
  CHECK(rt->query("balances", "nope").error().code == errc::unknown_query);
  auto bad = rt->query("balances", "balance", {{"id", 5}});
  CHECK(bad.error().code == errc::invalid_query);
  CHECK(bad.error().message.find("'id'") != std::string::npos);
  CHECK(rt->query("balances", "balance", {{"id", "acc-9"}}).error().code == errc::not_found);
  auto ok = rt->query("balances", "balance", {{"id", "acc-1"}});
  REQUIRE(ok);
  CHECK(ok->at("owner") == "Ada");
}
