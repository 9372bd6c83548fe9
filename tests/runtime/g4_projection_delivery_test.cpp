// G4: every projection applies every committed event exactly once, in global
// order, across restarts of the projector and of the runtime.

#include "runtime_fixture.hpp"
#include "test_projections.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <thread>

using namespace annals;
using namespace annals::test;

namespace {

void load(Runtime& rt, int accounts, int deposits_each) {
  std::vector<std::future<CommandResult>> fs;
  for (int a = 0; a < accounts; ++a) fs.push_back(rt.execute_async(open_account("acc-" + std::to_string(a))));
  for (int i = 0; i < deposits_each; ++i)
    for (int a = 0; a < accounts; ++a) fs.push_back(rt.execute_async(deposit("acc-" + std::to_string(a), 1 + i % 7)));
  for (auto& f : fs) REQUIRE(f.get().accepted());
}

} // namespace

TEST_CASE_METHOD(RuntimeFixture, "G4 a projection applies every committed event exactly once and in order") {
  auto rt = bank_runtime();
  rt->register_projection(recorder("live"));
  load(*rt, 20, 25);
  rt->register_projection(recorder("late"));  // starts after everything was written
  REQUIRE(caught_up(*rt, "live"));
  REQUIRE(caught_up(*rt, "late"));
  const auto head = rt->head_position();
  CHECK(head == 520);
  CHECK(*rt->query("live", "positions") == one_to(head));
  CHECK(*rt->query("late", "positions") == one_to(head));
}

TEST_CASE_METHOD(RuntimeFixture, "G4 a projector crashed in the middle of the stream resumes without gaps or duplicates") {
  auto o = options();
  o.projections.initial_backoff = std::chrono::milliseconds(5);
  o.projections.max_backoff = std::chrono::milliseconds(20);
  auto rt = bank_runtime(o);
  rt->register_projection(recorder("rec"));
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    REQUIRE(rt->execute(open_account("w")).accepted());
    for (int i = 0; i < 400; ++i) REQUIRE(rt->execute(deposit("w", 1)).accepted());
    writing = false;
  });
  int crashes = 0;
  while (writing) {
    rt->crash_projection("rec");
    ++crashes;
    // Running and applying again before the next crash, so each crash lands mid-stream. (A crash sent before
    // the first projector exists is lost, so this waits on progress, not on the restart count.)
    CHECK(eventually([&, at = rt->projection_status("rec")->checkpoint] {
      auto st = rt->projection_status("rec");
      return !writing || (st->running && st->checkpoint > at);
    }));
  }
  writer.join();
  REQUIRE(caught_up(*rt, "rec"));
  CHECK(*rt->query("rec", "positions") == one_to(401));
  auto st = rt->projection_status("rec");
  REQUIRE(st);
  CHECK(st->restarts >= 3);
  CHECK(st->restarts <= crashes);
  CHECK(st->backlog == 0);
}

TEST_CASE_METHOD(RuntimeFixture, "G4 after a runtime restart a projection resumes from its snapshot and applies only what came after") {
  auto applied = std::make_shared<std::atomic<int>>(0);
  auto count = [applied](const Event&) { ++*applied; };
  {
    auto rt = bank_runtime();
    rt->register_projection(recorder("rec", count, 25));
    load(*rt, 5, 40);  // 205 events
    REQUIRE(caught_up(*rt, "rec"));
  }
  CHECK(*applied == 205);
  auto snap = open_sqlite_store({db})->load_projection_snapshot("rec");
  REQUIRE(snap);
  CHECK(snap->position == 200);

  *applied = 0;
  auto rt = bank_runtime();
  rt->register_projection(recorder("rec", count, 25));
  REQUIRE(caught_up(*rt, "rec"));
  CHECK(*applied == 5);  // 201..205 only
  for (int i = 0; i < 10; ++i) REQUIRE(rt->execute(deposit("acc-0", 1)).accepted());
  REQUIRE(caught_up(*rt, "rec"));
  CHECK(*applied == 15);
  CHECK(*rt->query("rec", "positions") == one_to(215));
}

TEST_CASE_METHOD(RuntimeFixture, "G4 a slow projector behind a small bus window catches up from the store without gaps") {
  auto o = options();
  o.projections.bus_window = 1;
  o.projections.catch_up_batch = 7;
  auto rt = bank_runtime(o);
  rt->register_projection(recorder("slow", [](const Event&) {
    std::this_thread::sleep_for(std::chrono::microseconds(300));
  }));
  rt->register_projection(recorder("fast"));
  load(*rt, 10, 30);
  REQUIRE(caught_up(*rt, "slow"));
  REQUIRE(caught_up(*rt, "fast"));
  CHECK(*rt->query("slow", "positions") == one_to(310));
  CHECK(*rt->query("fast", "positions") == one_to(310));
}
