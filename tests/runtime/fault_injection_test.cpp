// Fault injection into projectors (a failing or a slow projector, for
// scenarios) and a metrics registry shared by runtimes that follow each
// other on one store (a restart within a scenario).

#include "captured_log.hpp"
#include "runtime_fixture.hpp"
#include "test_projections.hpp"

#include <annals/persistence/memory_event_store.hpp>

#include <annals/fault_injector.hpp>

#include <catch2/catch.hpp>

#include <future>
#include <mutex>

using namespace annals;
using namespace annals::test;

namespace {

// A bank runtime on the memory store, with quick restarts.
std::unique_ptr<Runtime> memory_bank(std::shared_ptr<EventStoreProvider> store = memory_store(),
                                     std::function<void(RuntimeOptions&)> tweak = {}) {
  RuntimeOptions o;
  o.store = std::move(store);
  o.command_timeout = std::chrono::seconds(20);
  o.projections.initial_backoff = std::chrono::milliseconds(5);
  o.projections.max_backoff = std::chrono::milliseconds(40);
  o.projections.max_attempts = 3;
  if (tweak) tweak(o);
  auto rt = std::make_unique<Runtime>(std::move(o));
  rt->register_aggregate(bank::account_type());
  return rt;
}

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  return RuntimeFixture::eventually(done, limit);
}
bool caught_up(Runtime& rt, const std::string& projection,
               std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  return RuntimeFixture::caught_up(rt, projection, limit);
}

const ProjectionStats& projection_of(const MetricsSnapshot& m, const std::string& name) {
  for (const auto& p : m.projections)
    if (p.projection == name) return p;
  throw std::runtime_error("no projection stats for " + name);
}

std::uint64_t accepted(const MetricsSnapshot& m, const std::string& command) {
  for (const auto& c : m.commands)
    if (c.aggregate == "account" && c.command == command) return c.accepted;
  return 0;
}

std::int64_t active_accounts(const MetricsSnapshot& m) {
  for (const auto& a : m.aggregates)
    if (a.aggregate == "account") return a.active;
  return 0;
}


} // namespace

SCENARIO("G5 an injected failure below max_attempts restarts the projector and loses nothing") {
  auto rt = memory_bank();  // max_attempts = 3
  rt->register_projection(sums("sums"));
  rt->register_projection(recorder("rec"));
  GIVEN("a projection that has applied an account's first deposit") {
    REQUIRE(rt->execute(open_account("acc-1")).accepted());
    REQUIRE(rt->execute(deposit("acc-1", 5)).accepted());
    REQUIRE(caught_up(*rt, "sums"));
    WHEN("its projector is made to fail twice on the account's next deposit, and one comes") {
      REQUIRE_FALSE(FaultInjector(*rt).fail_projection_on("sums", EventMatch{"account", "deposited", "acc-1"}, 2));
      auto r = rt->execute(deposit("acc-1", 7));
      REQUIRE(r.accepted());  // commands never wait for projections
      THEN("the projector is restarted twice, then applies the event; nothing is parked or lost") {
        REQUIRE(eventually([&] {
          auto st = rt->projection_status("sums");
          return st && st->restarts == 2 && st->running && st->checkpoint == rt->head_position();
        }));
        CHECK(*rt->query("sums", "total") == json::value(12));
        auto st = rt->projection_status("sums");
        CHECK(st->parked == 0);
        REQUIRE(st->last_error);
        CHECK(st->last_error->find("injected failure") != std::string::npos);
        CHECK(rt->dead_letters("sums").empty());
        CHECK(projection_of(rt->metrics(), "sums").errors == 2);
        AND_THEN("other projections were not disturbed") {
          REQUIRE(caught_up(*rt, "rec"));
          CHECK(*rt->query("rec", "positions") == one_to(rt->head_position()));
          CHECK(rt->projection_status("rec")->restarts == 0);
        }
        AND_WHEN("the next matching event comes") {
          auto more = rt->execute(deposit("acc-1", 1));
          REQUIRE(more.accepted());
          THEN("the used-up fault does not fail it") {
            CHECK(*rt->query("sums", "total", {}, more.position) == json::value(13));
            CHECK(rt->projection_status("sums")->restarts == 2);
          }
        }
      }
    }
  }
}

SCENARIO("G5 an injected poison event is parked, other projections go on, and a retry after the fault is exhausted "
         "applies it") {
  auto rt = memory_bank();  // max_attempts = 3
  rt->register_projection(sums("sums"));
  rt->register_projection(recorder("rec"));
  REQUIRE(rt->execute(open_account("acc-1")).accepted());
  REQUIRE(caught_up(*rt, "sums"));
  GIVEN("a fail fault of max_attempts + 1 failures on the next deposit") {
    REQUIRE_FALSE(FaultInjector(*rt).fail_projection_on("sums", EventMatch{"", "deposited", ""}, 4));
    WHEN("that deposit and another one are committed") {
      auto poison = rt->execute(deposit("acc-1", 13));
      REQUIRE(poison.accepted());
      REQUIRE(rt->execute(deposit("acc-1", 4)).accepted());
      THEN("the first is parked after max_attempts failures; everything after it is applied") {
        REQUIRE(eventually([&] {
          auto st = rt->projection_status("sums");
          return st && st->parked == 1 && st->running && st->checkpoint == rt->head_position();
        }));
        auto parked = rt->dead_letters("sums");
        REQUIRE(parked.size() == 1);
        CHECK(parked[0].position == poison.position);
        CHECK(parked[0].attempts == 3);
        CHECK(parked[0].error.find("injected failure 3 of 4") != std::string::npos);
        CHECK(*rt->query("sums", "total") == json::value(4));
        REQUIRE(caught_up(*rt, "rec"));
        CHECK(*rt->query("rec", "positions") == one_to(rt->head_position()));
        CHECK(rt->projection_status("rec")->restarts == 0);

        AND_WHEN("it is retried while the fault has a failure left") {
          auto err = rt->retry_dead_letter("sums", poison.position);
          THEN("the retry fails and the event stays parked") {
            REQUIRE(err);
            CHECK(err->message.find("injected failure 4 of 4") != std::string::npos);
            CHECK(rt->dead_letters("sums").size() == 1);
            AND_WHEN("it is retried again, the fault now used up") {
              auto again = rt->retry_dead_letter("sums", poison.position);
              THEN("it is applied and no longer parked") {
                CHECK_FALSE(again);
                CHECK(rt->dead_letters("sums").empty());
                CHECK(*rt->query("sums", "total") == json::value(17));
                CHECK(rt->projection_status("sums")->parked == 0);
              }
            }
          }
        }
      }
    }
  }
}

SCENARIO("G6 a delayed projection answers plain queries from older data while a read-your-writes query waits for its "
         "position") {
  auto rt = memory_bank();
  rt->register_projection(sums("sums"));
  REQUIRE(rt->execute(open_account("acc-1")).accepted());
  REQUIRE(rt->execute(deposit("acc-1", 10)).accepted());
  REQUIRE(caught_up(*rt, "sums"));
  GIVEN("a projection that applies each event a second late") {
    REQUIRE_FALSE(FaultInjector(*rt).delay_projection("sums", std::chrono::seconds(1)));
    WHEN("a deposit is committed") {
      auto r = rt->execute(deposit("acc-1", 5));
      REQUIRE(r.accepted());
      auto ryw = std::async(std::launch::async, [&] {
        return rt->query("sums", "total", {}, r.position, std::chrono::seconds(20));
      });
      THEN("a plain query is answered at once, from the model without the deposit") {
        auto plain = rt->query("sums", "total");
        REQUIRE(plain);
        CHECK(*plain == json::value(10));
        CHECK(rt->projection_status("sums")->checkpoint < r.position);
        AND_THEN("the query with the deposit's position waits for it and sees it") {
          CHECK(ryw.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready);
          auto seen = ryw.get();
          REQUIRE(seen);
          CHECK(*seen == json::value(15));
        }
      }
    }
  }
}

TEST_CASE("G4 a delayed projection still applies every position exactly once, in order") {
  // A small catch-up batch and bus window: the queue of waiting events fills
  // up and the projector falls back to reading from the store.
  auto rt = memory_bank(memory_store(), [](RuntimeOptions& o) {
    o.projections.catch_up_batch = 10;
    o.projections.bus_window = 2;
  });
  rt->register_projection(recorder("slow"));
  rt->register_projection(recorder("fast"));
  REQUIRE_FALSE(FaultInjector(*rt).delay_projection("slow", std::chrono::milliseconds(1)));
  std::vector<std::future<CommandResult>> fs;
  for (int a = 0; a < 5; ++a) fs.push_back(rt->execute_async(open_account("acc-" + std::to_string(a))));
  for (int i = 0; i < 40; ++i)
    for (int a = 0; a < 5; ++a) fs.push_back(rt->execute_async(deposit("acc-" + std::to_string(a), 1)));
  std::size_t n = 0;
  for (auto& f : fs) {
    REQUIRE(f.get().accepted());
    if (++n == fs.size() / 3) REQUIRE_FALSE(FaultInjector(*rt).delay_projection("slow", std::chrono::milliseconds(2)));
    if (n == fs.size() / 2) FaultInjector(*rt).crash_projection("slow");  // restarts delayed, replaying from the store
  }
  REQUIRE_FALSE(FaultInjector(*rt).delay_projection("slow", std::chrono::milliseconds(1)));
  REQUIRE(caught_up(*rt, "slow", std::chrono::seconds(60)));
  REQUIRE(caught_up(*rt, "fast"));
  CHECK(rt->head_position() == 205);
  CHECK(*rt->query("slow", "positions") == one_to(205));
  CHECK(*rt->query("fast", "positions") == one_to(205));
}

SCENARIO("a fail fault applies only to events matching its filter") {
  CapturedLog log;
  auto rt = memory_bank(memory_store(), [&](RuntimeOptions& o) { o.log.sink = log.sink(); });
  rt->register_projection(sums("sums"));
  rt->register_projection(recorder("other"));
  GIVEN("a fault on withdrawals from acc-2, and one on another aggregate type") {
    REQUIRE_FALSE(FaultInjector(*rt).fail_projection_on("sums", EventMatch{"account", "withdrawn", "acc-2"}, 1));
    REQUIRE_FALSE(FaultInjector(*rt).fail_projection_on("other", EventMatch{"order", "", ""}, 1));
    WHEN("events of other streams and types are applied") {
      for (const auto& id : {"acc-1", "acc-2"}) {
        REQUIRE(rt->execute(open_account(id)).accepted());
        REQUIRE(rt->execute(deposit(id, 10)).accepted());
      }
      REQUIRE(rt->execute(withdraw("acc-1", 3)).accepted());
      REQUIRE(caught_up(*rt, "sums"));
      THEN("nothing fails") { CHECK(rt->projection_status("sums")->restarts == 0); }
      AND_WHEN("a withdrawal from acc-2 comes") {
        auto w = rt->execute(withdraw("acc-2", 4));
        REQUIRE(w.accepted());
        THEN("that event fails once, and the projection ends complete") {
          REQUIRE(eventually([&] {
            auto st = rt->projection_status("sums");
            return st && st->restarts == 1 && st->running && st->checkpoint == rt->head_position();
          }));
          auto st = rt->projection_status("sums");
          REQUIRE(st->last_error);
          CHECK(st->last_error->find("event " + std::to_string(w.position) + " (account/acc-2 withdrawn)")
                != std::string::npos);
          CHECK(*rt->query("sums", "total") == json::value(13));
          AND_THEN("the fault on another aggregate type never fired") {
            REQUIRE(caught_up(*rt, "other"));
            CHECK(rt->projection_status("other")->restarts == 0);
          }
          AND_THEN("each injection was logged") {
            auto injected = log.of("projection.fault_injected");
            REQUIRE(injected.size() == 2);
            CHECK(injected[0].fields.at("projection") == "sums");
            CHECK(injected[0].fields.at("fault") == "fail");
            CHECK(injected[0].fields.at("match") == "account/withdrawn/acc-2");
            CHECK(injected[0].fields.at("times") == 1);
            CHECK(injected[1].fields.at("projection") == "other");
          }
        }
      }
    }
  }
}

SCENARIO("shadow copies are not affected by a fail fault and do not use it up") {
  auto rt = memory_bank();
  rt->register_projection(sums("sums"));
  for (const auto& id : {"acc-1", "acc-2"}) {
    REQUIRE(rt->execute(open_account(id)).accepted());
    for (int i = 1; i <= 10; ++i) REQUIRE(rt->execute(deposit(id, i)).accepted());
  }
  REQUIRE(caught_up(*rt, "sums"));
  GIVEN("a fail fault on any account event, armed while the projection is caught up") {
    REQUIRE_FALSE(FaultInjector(*rt).fail_projection_on("sums", EventMatch{"account", "", ""}, 1));
    WHEN("it is reconciled and rebuilt (fresh copies replay every event)") {
      auto r = rt->reconcile_projection("sums");
      auto rebuilt = rt->rebuild_projection("sums");
      THEN("both succeed, equal, without a restart") {
        REQUIRE(r);
        CHECK(r->equal);
        CHECK_FALSE(rebuilt);
        CHECK(*rt->query("sums", "total") == json::value(110));
        CHECK(rt->projection_status("sums")->restarts == 0);
        AND_WHEN("the (rebuilt) live copy gets the next event") {
          REQUIRE(rt->execute(deposit("acc-1", 1)).accepted());
          THEN("the fault, still unused, fails it once") {
            REQUIRE(eventually([&] {
              auto st = rt->projection_status("sums");
              return st && st->restarts == 1 && st->running && st->checkpoint == rt->head_position();
            }));
            CHECK(*rt->query("sums", "total") == json::value(111));
          }
        }
      }
    }
  }
}

SCENARIO("removing a delay lets the projection apply the waiting events at once") {
  auto rt = memory_bank();
  rt->register_projection(sums("sums"));
  REQUIRE(rt->execute(open_account("acc-1")).accepted());
  REQUIRE(caught_up(*rt, "sums"));
  GIVEN("a projection delayed by an hour per event, with 20 events waiting") {
    REQUIRE_FALSE(FaultInjector(*rt).delay_projection("sums", std::chrono::hours(1)));
    std::int64_t last = 0;
    for (int i = 1; i <= 20; ++i) last = rt->execute(deposit("acc-1", i)).position;
    REQUIRE(last == rt->head_position());
    CHECK(*rt->query("sums", "total") == json::value(0));
    WHEN("the faults are cleared") {
      REQUIRE_FALSE(FaultInjector(*rt).clear_projection_faults("sums"));
      THEN("it catches up") {
        REQUIRE(caught_up(*rt, "sums"));
        CHECK(*rt->query("sums", "total") == json::value(210));
      }
    }
    WHEN("the delay is set to 0") {
      REQUIRE_FALSE(FaultInjector(*rt).delay_projection("sums", std::chrono::milliseconds(0)));
      THEN("it catches up") {
        REQUIRE(caught_up(*rt, "sums"));
        CHECK(*rt->query("sums", "total") == json::value(210));
      }
    }
    WHEN("the runtime is stopped while events wait") {
      // On this thread: CAF 0.17 keeps the actor system's logger in a thread-local of the thread that made the
      // runtime, so destroying the runtime on another thread while this one lives hangs in ~actor_system.
      const auto t0 = std::chrono::steady_clock::now();
      rt.reset();
      const auto took = std::chrono::steady_clock::now() - t0;
      THEN("it stops without waiting for the delay") {
        // A stop that waited for the delay (an hour per event) would hang here until ctest's timeout; one that
        // waited for any other timer would take seconds. A stop takes milliseconds.
        INFO("the stop took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
        CHECK(took < std::chrono::seconds(10));
      }
    }
  }
}

TEST_CASE("fault injection into an unknown projection is an error") {
  auto rt = memory_bank();
  CHECK(FaultInjector(*rt).fail_projection_on("nope", EventMatch{}, 1)->code == errc::unknown_projection);
  CHECK(FaultInjector(*rt).delay_projection("nope", std::chrono::milliseconds(5))->code == errc::unknown_projection);
  CHECK(FaultInjector(*rt).clear_projection_faults("nope")->code == errc::unknown_projection);
}

SCENARIO("a metrics registry shared by two runtimes one after another covers the whole run") {
  auto store = memory_store();
  auto registry = make_metrics_registry();
  auto with_registry = [&](RuntimeOptions& o) { o.metrics = registry; };
  GIVEN("a first runtime that ran commands and a projection, then stopped") {
    {
      auto first = memory_bank(store, with_registry);
      CHECK(first->options().metrics == registry);
      first->register_projection(sums("sums"));
      REQUIRE(first->execute(open_account("acc-1")).accepted());
      for (int i = 0; i < 3; ++i) REQUIRE(first->execute(deposit("acc-1", 1)).accepted());
      REQUIRE(caught_up(*first, "sums"));
      auto m = first->metrics();
      CHECK(active_accounts(m) == 1);
      CHECK(projection_of(m, "sums").checkpoint == 4);
    }
    THEN("the registry keeps its counters, and its gauges no longer describe the stopped runtime") {
      auto m = registry->snapshot();
      CHECK(accepted(m, "deposit") == 3);
      CHECK(active_accounts(m) == 0);
      CHECK(projection_of(m, "sums").checkpoint == 0);
      CHECK(projection_of(m, "sums").applied == 4);
    }
    WHEN("a second runtime on the same store and registry runs more commands") {
      auto second = memory_bank(store, with_registry);
      second->register_projection(sums("sums"));
      for (int i = 0; i < 2; ++i) REQUIRE(second->execute(deposit("acc-1", 1)).accepted());
      REQUIRE(caught_up(*second, "sums"));
      THEN("counters and histograms add up, gauges describe the running runtime") {
        auto m = second->metrics();
        CHECK(accepted(m, "deposit") == 5);
        CHECK(accepted(m, "open") == 1);
        CHECK(m.command_totals().latency.count == 6);
        CHECK(active_accounts(m) == 1);
        CHECK(projection_of(m, "sums").checkpoint == 6);
        CHECK(projection_of(m, "sums").applied == 4 + 6);  // the second projector replayed from position 1
        CHECK(second->metrics_text().find("annals_commands_total{path=\"command\",aggregate=\"account\","
                                          "command=\"deposit\",outcome=\"accepted\"} 5")
              != std::string::npos);
      }
    }
  }
  GIVEN("a runtime without a shared registry") {
    auto alone = memory_bank(store);
    THEN("it has one of its own") {
      REQUIRE(alone->options().metrics);
      CHECK(alone->options().metrics != registry);
    }
  }
}
