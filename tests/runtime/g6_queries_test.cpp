// G6: queries are side-effect free; with min_position they reflect at least
// that write.

#include "runtime_fixture.hpp"
#include "test_projections.hpp"

#include <bank/projections.hpp>

#include <annals/fault_injector.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <mutex>
#include <set>
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

namespace {

// A projection that fails on the deposit of 13 until `fixed` is set, never
// parking it, restarted after `backoff`.
std::unique_ptr<Runtime> stuck_runtime(const RuntimeFixture& f, std::shared_ptr<std::atomic<bool>> fixed,
                                       std::chrono::milliseconds backoff) {
  auto o = f.options();
  o.projections.initial_backoff = backoff;
  o.projections.max_backoff = backoff;
  o.projections.max_attempts = 1000000;
  auto rt = f.bank_runtime(o);
  rt->register_projection(sums("stuck", [fixed](const Event& e) {
    if (e.data.at("amount").as_int64() == 13 && !*fixed) throw std::runtime_error("not yet");
  }));
  return rt;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

} // namespace

SCENARIO_METHOD(RuntimeFixture, "G6 a query waiting for a position is not lost when its projector dies") {
  GIVEN("a projection that fails on the second deposit until it is fixed") {
    auto fixed = std::make_shared<std::atomic<bool>>(false);
    WHEN("it restarts quickly, again and again, while a query waits for the last write") {
      auto rt = stuck_runtime(*this, fixed, std::chrono::milliseconds(20));
      REQUIRE(rt->execute(open_account("acc-1")).accepted());
      REQUIRE(rt->execute(deposit("acc-1", 7)).accepted());
      REQUIRE(rt->execute(deposit("acc-1", 13)).accepted());
      auto last = rt->execute(deposit("acc-1", 5));
      REQUIRE(last.accepted());
      auto ryw = std::async(std::launch::async, [&] {
        return rt->query("stuck", "total", {}, last.position, std::chrono::seconds(20));
      });
      const auto restarts = rt->projection_status("stuck")->restarts;
      // Several projectors get the query and die before they reach its position.
      REQUIRE(eventually([&] { return rt->projection_status("stuck")->restarts >= restarts + 5; }));
      REQUIRE(ryw.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready);
      THEN("the projector that gets there after the fix answers it") {
        *fixed = true;
        auto r = ryw.get();
        REQUIRE(r);
        CHECK(*r == json::value(25));
      }
    }
    WHEN("its projector is down for longer than the query may wait") {
      auto rt = stuck_runtime(*this, fixed, std::chrono::seconds(3));
      REQUIRE(rt->execute(open_account("acc-1")).accepted());
      REQUIRE(rt->execute(deposit("acc-1", 7)).accepted());
      auto poison = rt->execute(deposit("acc-1", 13));
      REQUIRE(poison.accepted());
      auto last = rt->execute(deposit("acc-1", 5));
      REQUIRE(last.accepted());
      REQUIRE(eventually([&] { return rt->projection_status("stuck")->restarts >= 1; }));
      THEN("the query times out with the position the projection reached and why it is not there") {
        const auto t0 = std::chrono::steady_clock::now();
        auto r = rt->query("stuck", "total", {}, last.position, std::chrono::milliseconds(300));
        CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
        REQUIRE_FALSE(r);
        CHECK(r.error().code == errc::timeout);
        CHECK(contains(r.error().message, "projection 'stuck' reached position " + std::to_string(poison.position - 1)
                                            + ", not " + std::to_string(last.position) + ", within the time limit"));
        CHECK(contains(r.error().message, "restarting after a failure"));
        CHECK(contains(r.error().message, "not yet"));
      }
    }
  }
  GIVEN("a projection too slow to ever reach the last write, with a query waiting for it") {
    auto rt = bank_runtime();
    rt->register_projection(sums("sums"));
    REQUIRE(rt->execute(open_account("acc-1")).accepted());
    REQUIRE(caught_up(*rt, "sums"));
    REQUIRE_FALSE(FaultInjector(*rt).delay_projection("sums", std::chrono::hours(1)));
    std::int64_t last = 0;
    for (int i = 1; i <= 5; ++i) last = rt->execute(deposit("acc-1", i)).position;
    auto ryw = std::async(std::launch::async, [&] {
      return rt->query("sums", "total", {}, last, std::chrono::seconds(20));
    });
    // The query has reached the projector and waits there, unanswered.
    REQUIRE(eventually([&] {
      auto st = rt->projection_status("sums");
      return st && st->queries_in_flight == 1;
    }));
    REQUIRE(ryw.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready);
    WHEN("its projector crashes, and the next one is not slow") {
      FaultInjector(*rt).crash_projection("sums");
      REQUIRE(eventually([&] { return rt->projection_status("sums")->restarts == 1; }));
      REQUIRE_FALSE(FaultInjector(*rt).delay_projection("sums", std::chrono::milliseconds(0)));
      THEN("the next projector answers it once it gets there") {
        auto r = ryw.get();
        REQUIRE(r);
        CHECK(*r == json::value(15));
        CHECK(rt->projection_status("sums")->restarts == 1);
      }
    }
    WHEN("a rebuild replaces the live copy it waits in (the fresh copy is not slowed down)") {
      auto rebuilt = rt->rebuild_projection("sums");
      REQUIRE_FALSE(rebuilt);
      THEN("the rebuilt copy answers it") {
        REQUIRE(ryw.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
        auto r = ryw.get();
        REQUIRE(r);
        CHECK(*r == json::value(15));
      }
    }
  }
}

SCENARIO_METHOD(RuntimeFixture, "G6 a plain query during a restart answers with the predecessor's state, not an empty model") {
  GIVEN("a projection that keeps failing after its second event") {
    auto fixed = std::make_shared<std::atomic<bool>>(false);
    auto rt = stuck_runtime(*this, fixed, std::chrono::milliseconds(20));
    REQUIRE(rt->execute(open_account("acc-1")).accepted());
    REQUIRE(rt->execute(deposit("acc-1", 7)).accepted());
    REQUIRE(rt->execute(deposit("acc-1", 13)).accepted());
    REQUIRE(rt->execute(deposit("acc-1", 5)).accepted());
    REQUIRE(eventually([&] { return rt->projection_status("stuck")->restarts >= 2; }));
    THEN("every plain query, whichever projector or restart it meets, sees the state before the failing event") {
      for (int i = 0; i < 40; ++i) {
        auto r = rt->query("stuck", "total");
        REQUIRE(r);
        CHECK(*r == json::value(7));
        std::this_thread::sleep_for(std::chrono::milliseconds(3));  // spreads the queries over several restarts
      }
    }
  }
  GIVEN("a caught-up projection that catches up from the store in small steps") {
    auto o = options();
    o.projections.initial_backoff = std::chrono::milliseconds(5);
    o.projections.catch_up_batch = 5;
    auto rt = bank_runtime(o);
    // 1 ms per event: a replay of the 100 events lasts long enough for queries to meet it.
    rt->register_projection(sums("sums", [](const Event&) { std::this_thread::sleep_for(std::chrono::milliseconds(1)); }));
    REQUIRE(rt->execute(open_account("acc-1")).accepted());
    for (int i = 1; i <= 100; ++i) REQUIRE(rt->execute(deposit("acc-1", 1)).accepted());
    REQUIRE(caught_up(*rt, "sums"));
    REQUIRE(*rt->query("sums", "total") == json::value(100));
    WHEN("its projector crashes and replays everything from the store") {
      const auto restarts = rt->projection_status("sums")->restarts;
      FaultInjector(*rt).crash_projection("sums");
      THEN("plain queries meanwhile see everything it had applied, never a partial or empty model") {
        std::vector<json::value> seen;
        while (rt->projection_status("sums")->restarts == restarts || !caught_up(*rt, "sums", std::chrono::milliseconds(0))) {
          auto r = rt->query("sums", "total");
          REQUIRE(r);
          seen.push_back(*r);
        }
        // The replay takes over 100 ms (100 events, 1 ms each): queries did meet it.
        REQUIRE_FALSE(seen.empty());
        for (const auto& v : seen) CHECK(v == json::value(100));
        CHECK(*rt->query("sums", "total") == json::value(100));
      }
    }
  }
}

SCENARIO_METHOD(RuntimeFixture, "G6 a plain query never times out because of catch-up") {
  GIVEN("a caught-up projection restarted slow: it applies each event 200 ms late") {
    auto o = options();
    o.projections.initial_backoff = std::chrono::milliseconds(5);
    auto rt = bank_runtime(o);
    rt->register_projection(sums("sums"));
    REQUIRE(rt->execute(open_account("acc-1")).accepted());
    std::int64_t last = 0;
    for (int i = 1; i <= 10; ++i) last = rt->execute(deposit("acc-1", 1)).position;
    REQUIRE(caught_up(*rt, "sums"));
    REQUIRE(*rt->query("sums", "total") == json::value(10));
    REQUIRE_FALSE(FaultInjector(*rt).delay_projection("sums", std::chrono::milliseconds(200)));
    FaultInjector(*rt).crash_projection("sums");
    REQUIRE(eventually([&] { return rt->projection_status("sums")->restarts == 1; }));
    WHEN("a plain query's time runs out before the new projector is back where the old one was") {
      auto r = rt->query("sums", "total", {}, 0, std::chrono::milliseconds(300));
      THEN("it is answered with the model as it is") {
        REQUIRE(r);
        CHECK(r->as_int64() < 10);
        CHECK(rt->projection_status("sums")->checkpoint < last);
      }
    }
    WHEN("a read-your-writes query's time runs out") {
      auto r = rt->query("sums", "total", {}, last, std::chrono::milliseconds(300));
      THEN("it fails with a timeout naming the position") {
        REQUIRE_FALSE(r);
        CHECK(r.error().code == errc::timeout);
        CHECK(contains(r.error().message, "not " + std::to_string(last)));
      }
    }
    WHEN("the delay is removed") {
      REQUIRE_FALSE(FaultInjector(*rt).delay_projection("sums", std::chrono::milliseconds(0)));
      THEN("a plain query sees everything again") {
        auto r = rt->query("sums", "total");
        REQUIRE(r);
        CHECK(*r == json::value(10));
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

TEST_CASE_METHOD(RuntimeFixture, "G6 query_async waits for min_position without a thread and answers every query once") {
  auto rt = bank_runtime();
  rt->register_projection(bank::balances_projection());
  auto opened = rt->execute(open_account("acc-1", "Ada"));
  REQUIRE(opened.accepted());

  struct Answers {
    std::mutex mtx;
    std::vector<Expected<json::value>> far, near;
    std::set<std::thread::id> threads;
  };
  auto answers = std::make_shared<Answers>();
  const auto caller = std::this_thread::get_id();
  // Given far more queries waiting for a position nobody writes than the runtime has threads
  constexpr int kFar = 200;
  for (int i = 0; i < kFar; ++i)
    rt->query_async("balances", "total", {}, 1'000'000'000'000, std::chrono::milliseconds(3000),
                    [answers](Expected<json::value> r) {
                      std::lock_guard<std::mutex> lock(answers->mtx);
                      answers->threads.insert(std::this_thread::get_id());
                      answers->far.push_back(std::move(r));
                    });
  // when a query for a position already written comes after them
  rt->query_async("balances", "balance", {{"id", "acc-1"}}, opened.position, std::nullopt,
                  [answers](Expected<json::value> r) {
                    std::lock_guard<std::mutex> lock(answers->mtx);
                    answers->threads.insert(std::this_thread::get_id());
                    answers->near.push_back(std::move(r));
                  });
  // then it is answered while all of them still wait
  REQUIRE(eventually([&] {
    std::lock_guard<std::mutex> lock(answers->mtx);
    return answers->near.size() == 1;
  }));
  {
    std::lock_guard<std::mutex> lock(answers->mtx);
    CHECK(answers->far.empty());
    REQUIRE(answers->near[0]);
    CHECK(answers->near[0]->at("owner") == "Ada");
  }
  // and a blocking query is answered meanwhile too
  CHECK(rt->query("balances", "total"));
  // and each far one gets its own timeout, once, never on the caller's thread
  REQUIRE(eventually([&] {
    std::lock_guard<std::mutex> lock(answers->mtx);
    return answers->far.size() == kFar;
  }));
  std::lock_guard<std::mutex> lock(answers->mtx);
  for (const auto& r : answers->far) {
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::timeout);
  }
  CHECK(answers->threads.count(caller) == 0);
}

TEST_CASE_METHOD(RuntimeFixture, "G6 query_async reports an unknown projection or query clearly") {
  auto rt = bank_runtime();
  rt->register_projection(bank::balances_projection());
  std::promise<Expected<json::value>> unknown_projection, unknown_query;
  rt->query_async("nope", "total", {}, 0, std::nullopt,
                  [&](Expected<json::value> r) { unknown_projection.set_value(std::move(r)); });
  rt->query_async("balances", "nope", {}, 0, std::nullopt,
                  [&](Expected<json::value> r) { unknown_query.set_value(std::move(r)); });
  CHECK(unknown_projection.get_future().get().error().code == errc::unknown_projection);
  CHECK(unknown_query.get_future().get().error().code == errc::unknown_query);
}

// Shutdown does not wait out a query's deadline, and never destroys the
// actor system under a query in flight (an earlier version gave up waiting
// after command_timeout + 1 s and crashed).
SCENARIO_METHOD(RuntimeFixture, "G6 queries waiting for a position when the runtime stops are answered shutting_down") {
  GIVEN("a runtime whose command timeout is much shorter than its queries' deadline") {
    auto o = options();
    o.command_timeout = std::chrono::milliseconds(100);
    auto rt = bank_runtime(o);
    rt->register_projection(sums("sums"));
    auto opened = rt->execute(open_account("acc-1"));
    REQUIRE(opened.accepted());
    WHEN("a blocking and an asynchronous query wait for a position nobody writes, and the runtime is destroyed") {
      const auto far = opened.position + 1000;
      auto blocking = std::async(std::launch::async, [&] {
        return rt->query("sums", "total", {}, far, std::chrono::seconds(60));
      });
      std::promise<Expected<json::value>> async_answer;
      rt->query_async("sums", "total", {}, far, std::chrono::seconds(60),
                      [&](Expected<json::value> r) { async_answer.set_value(std::move(r)); });
      REQUIRE(eventually([&] {
        auto st = rt->projection_status("sums");
        return st && st->queries_in_flight == 2;
      }));
      rt.reset();
      THEN("both are answered shutting_down, long before their deadline") {
        REQUIRE(blocking.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
        auto b = blocking.get();
        REQUIRE_FALSE(b);
        CHECK(b.error().code == errc::shutting_down);
        auto f = async_answer.get_future();
        REQUIRE(f.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
        auto a = f.get();
        REQUIRE_FALSE(a);
        CHECK(a.error().code == errc::shutting_down);
      }
    }
  }
}
