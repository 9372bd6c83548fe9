// G5, retrying a dead letter (docs/projections.md, "Retrying a dead letter"):
// a retried event is applied exactly once, at its own position when the
// projector has not reached it yet, late when it has passed it, also when
// the process is killed in between.

#include "child_process.hpp"
#include "runtime_fixture.hpp"
#include "test_projections.hpp"

#include <annals/fault_injector.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <future>

using namespace annals;
using namespace annals::test;

namespace {

constexpr std::int64_t poison = 3;  // the parked position

struct RetryFixture : RuntimeFixture {
  std::shared_ptr<std::atomic<bool>> fixed = std::make_shared<std::atomic<bool>>(false);

  std::unique_ptr<Runtime> with_recorder(int snapshot_every) const {
    auto rt = bank_runtime(fast_supervision(options()));
    rt->register_projection(recorder("rec", poison_13(fixed), snapshot_every));
    return rt;
  }

  // Positions 1..5; "rec" parks the deposit of 13 at position 3.
  void park_poison(int snapshot_every) const {
    auto rt = with_recorder(snapshot_every);
    REQUIRE(rt->execute(open_account("acc-1")).accepted());  // 1
    REQUIRE(rt->execute(deposit("acc-1", 1)).accepted());    // 2
    REQUIRE(rt->execute(deposit("acc-1", 13)).accepted());   // 3: poison
    REQUIRE(rt->execute(deposit("acc-1", 2)).accepted());    // 4
    REQUIRE(rt->execute(deposit("acc-1", 3)).accepted());    // 5
    REQUIRE(eventually([&] { return rt->projection_status("rec")->parked == 1; }));
    REQUIRE(caught_up(*rt, "rec"));
    REQUIRE(rt->dead_letters("rec").at(0).position == poison);
  }

  static std::vector<std::int64_t> positions(Runtime& rt) {
    auto v = rt.query("rec", "positions");
    REQUIRE(v);
    std::vector<std::int64_t> out;
    for (const auto& p : v->as_array()) out.push_back(p.as_int64());
    return out;
  }

  std::size_t parked_in_store() const {
    SqliteStoreOptions so;
    so.path = db;
    so.read_only = true;
    return open_sqlite_store(so)->dead_letters("rec").size();
  }
};

const std::vector<std::int64_t> in_order{1, 2, 3, 4, 5};

} // namespace

SCENARIO_METHOD(RetryFixture, "G5 a retry while the projector is behind the parked event applies it once, at its own position") {
  GIVEN("event 3 parked, and a projector restarted at position 0 that is held there") {
    park_poison(/*snapshot_every=*/1000);
    *fixed = true;
    auto rt = with_recorder(1000);
    REQUIRE(caught_up(*rt, "rec"));
    FaultInjector faults(*rt);
    REQUIRE_FALSE(faults.delay_projection("rec", std::chrono::hours(1)));
    faults.crash_projection("rec");
    REQUIRE(eventually([&] {
      auto st = rt->projection_status("rec");
      return st && st->running && st->restarts == 1 && st->checkpoint == 0;
    }));
    WHEN("event 3 is retried, and then the projector may go on") {
      auto retried = std::async(std::launch::async, [&] { return rt->retry_dead_letter("rec", poison); });
      // The store unparks it as soon as the projector has the retry.
      REQUIRE(eventually([&] { return parked_in_store() == 0; }));
      REQUIRE_FALSE(faults.delay_projection("rec", std::chrono::milliseconds(0)));
      const auto error = retried.get();
      THEN("the retry succeeds once the projector has applied it between 2 and 4, exactly once") {
        INFO((error ? error->message : ""));
        CHECK_FALSE(error);
        REQUIRE(caught_up(*rt, "rec"));
        CHECK(positions(*rt) == in_order);
        CHECK(rt->projection_status("rec")->parked == 0);
        AND_THEN("the model equals a fresh rebuild") {
          auto r = rt->reconcile_projection("rec");
          REQUIRE(r);
          CHECK(r->equal);
        }
        AND_WHEN("the runtime restarts") {
          rt.reset();
          auto again = with_recorder(1000);
          THEN("it is there once, in order") {
            REQUIRE(caught_up(*again, "rec"));
            CHECK(positions(*again) == in_order);
          }
        }
      }
    }
  }
}

SCENARIO_METHOD(RetryFixture, "G5 a retry whose process is killed before the projector reaches the event applies it once after the restart") {
  GIVEN("event 3 parked, and a second process whose projector is held at position 0") {
    park_poison(/*snapshot_every=*/1000);
    *fixed = true;
    WriterProcess child({"retry", db, "behind"});
    REQUIRE(child.read_line() == "READY");
    WHEN("it retries event 3 and is killed (SIGKILL) once the store has unparked it") {
      REQUIRE(eventually([&] { return parked_in_store() == 0; }));
      child.kill(SIGKILL);
      THEN("a restarted runtime applies it once, at its own position, and equals a fresh rebuild") {
        auto rt = with_recorder(1000);
        REQUIRE(caught_up(*rt, "rec"));
        CHECK(positions(*rt) == in_order);
        CHECK(rt->dead_letters("rec").empty());
        auto r = rt->reconcile_projection("rec");
        REQUIRE(r);
        CHECK(r->equal);
      }
    }
  }
}

SCENARIO_METHOD(RetryFixture, "G5 a late retry whose process is killed right after it is kept exactly once by the snapshot") {
  GIVEN("event 3 parked, a snapshot after it (without it), and a second process caught up past it") {
    park_poison(/*snapshot_every=*/1);
    *fixed = true;
    WriterProcess child({"retry", db, "past"});
    REQUIRE(child.read_line() == "READY");
    WHEN("it retries event 3 (applied late) and is killed as soon as the retry returns") {
      REQUIRE(child.read_line() == "RETRIED ok");
      child.kill(SIGKILL);
      THEN("a restarted runtime, resuming from the stored snapshot, has every event once, 3 last") {
        CHECK(parked_in_store() == 0);
        auto rt = with_recorder(1);
        REQUIRE(caught_up(*rt, "rec"));
        CHECK(positions(*rt) == std::vector<std::int64_t>{1, 2, 4, 5, 3});
      }
    }
  }
}

SCENARIO_METHOD(RetryFixture, "G5 a late retry of a projection whose result does not depend on order equals a fresh rebuild") {
  GIVEN("a sums projection that parked the deposit of 13 and has passed it") {
    auto rt = bank_runtime(fast_supervision(options()));
    rt->register_projection(sums("sums", poison_13(fixed)));
    REQUIRE(rt->execute(open_account("acc-1")).accepted());
    REQUIRE(rt->execute(deposit("acc-1", 13)).accepted());
    REQUIRE(rt->execute(deposit("acc-1", 4)).accepted());
    REQUIRE(eventually([&] { return rt->projection_status("sums")->parked == 1; }));
    REQUIRE(caught_up(*rt, "sums"));
    WHEN("the handler is fixed and the event retried") {
      *fixed = true;
      REQUIRE_FALSE(rt->retry_dead_letter("sums", 2));
      THEN("it is applied once and the model equals a rebuild") {
        CHECK(*rt->query("sums", "total") == json::value(17));
        auto r = rt->reconcile_projection("sums");
        REQUIRE(r);
        CHECK(r->equal);
        AND_WHEN("it is retried again") {
          auto again = rt->retry_dead_letter("sums", 2);
          THEN("it is refused: not parked, and the model is unchanged") {
            REQUIRE(again);
            CHECK(again->code == errc::invalid_query);
            CHECK(*rt->query("sums", "total") == json::value(17));
          }
        }
      }
    }
  }
}
