// Rebuild a projection from position 0 while the old copy keeps answering;
// reconcile a fresh copy with the live read model.

#include "runtime_fixture.hpp"
#include "test_projections.hpp"

#include <catch2/catch.hpp>

#include <SQLiteCpp/SQLiteCpp.h>

#include <atomic>
#include <future>

using namespace annals;
using namespace annals::test;

namespace {

// Sums scaled by a factor that a "deploy" changes: a stand-in for a fixed bug.
// `applied` (if given) counts the events applied, by any copy.
ProjectionType scaled_sums(std::shared_ptr<std::atomic<int>> factor, std::chrono::microseconds delay = {},
                           int snapshot_every = 0, std::shared_ptr<std::atomic<int>> applied = nullptr) {
  return ProjectionType::define<Sums>("scaled")
    .on_json("account", "deposited", [=](Sums& m, const Event& e) {
      if (applied) ++*applied;
      if (delay.count()) std::this_thread::sleep_for(delay);  // slow work, so the rebuild takes a while
      const auto v = e.data.at("amount").as_int64() * *factor;
      m.by_account[e.stream.id] += v;
      m.total += v;
    })
    .query("total", [](const Sums& m, const json::object&) -> Expected<json::value> { return json::value(m.total); })
    .snapshot_every(snapshot_every);
}

void fill(Runtime& rt, int accounts, int deposits) {
  for (int a = 0; a < accounts; ++a) REQUIRE(rt.execute(open_account("acc-" + std::to_string(a))).accepted());
  std::vector<std::future<CommandResult>> fs;
  for (int i = 0; i < deposits; ++i) fs.push_back(rt.execute_async(deposit("acc-" + std::to_string(i % accounts), 1)));
  for (auto& f : fs) REQUIRE(f.get().accepted());
}

} // namespace

SCENARIO_METHOD(RuntimeFixture, "rebuilding a projection: the old copy answers until the new one has caught up") {
  auto factor = std::make_shared<std::atomic<int>>(1);
  auto applied = std::make_shared<std::atomic<int>>(0);
  auto rt = bank_runtime();
  rt->register_projection(scaled_sums(factor, std::chrono::microseconds(500), 0, applied));
  fill(*rt, 4, 300);
  REQUIRE(caught_up(*rt, "scaled", std::chrono::seconds(60)));
  REQUIRE(*rt->query("scaled", "total") == json::value(300));

  WHEN("the projection's logic changes and it is rebuilt") {
    *factor = 2;
    const int applied_before = *applied;
    auto rebuild = std::async(std::launch::async, [&] { return rt->rebuild_projection("scaled"); });
    THEN("queries during the rebuild get the old model, and the new one afterwards") {
      // The live copy has nothing left to apply, so an event applied now is the fresh copy's: the rebuild is
      // under way. 300 events at 0.5 ms each: it takes at least 150 ms.
      REQUIRE(eventually([&] { return *applied > applied_before; }));
      CHECK(rebuild.wait_for(std::chrono::seconds(0)) != std::future_status::ready);
      CHECK(*rt->query("scaled", "total") == json::value(300));
      CHECK_FALSE(rebuild.get());
      CHECK(*rt->query("scaled", "total") == json::value(600));
      AND_THEN("the rebuilt copy follows new events") {
        REQUIRE(rt->execute(deposit("acc-0", 5)).accepted());
        REQUIRE(caught_up(*rt, "scaled"));
        CHECK(*rt->query("scaled", "total") == json::value(610));
        CHECK(rt->projection_status("scaled")->restarts == 0);
      }
    }
  }
}

TEST_CASE_METHOD(RuntimeFixture, "reconcile reports equal on a healthy projection") {
  auto rt = bank_runtime();
  rt->register_projection(sums("sums"));
  fill(*rt, 5, 200);
  REQUIRE(caught_up(*rt, "sums"));
  auto r = rt->reconcile_projection("sums");
  REQUIRE(r);
  CHECK(r->equal);
  CHECK(r->differences.empty());
  CHECK(r->position == rt->head_position());
}

TEST_CASE_METHOD(RuntimeFixture, "reconcile reports the differing keys of a tampered read model") {
  auto factor = std::make_shared<std::atomic<int>>(1);
  {
    auto rt = bank_runtime();
    rt->register_projection(scaled_sums(factor, {}, 10));
    fill(*rt, 3, 30);
    REQUIRE(caught_up(*rt, "scaled"));
  }
  {
    // Tamper with the saved read model: acc-1's sum and the total are off.
    SQLite::Database raw(db, SQLite::OPEN_READWRITE);
    auto snap = open_sqlite_store({db})->load_projection_snapshot("scaled");
    REQUIRE(snap);
    auto model = snap->model.as_object();
    model["by_account"].as_object()["acc-1"] = 999;
    model["total"] = 12345;
    SQLite::Statement up(raw, "UPDATE projection_snapshots SET model=? WHERE projection='scaled'");
    up.bind(1, json::serialize(model));
    up.exec();
  }
  auto rt = bank_runtime();
  rt->register_projection(scaled_sums(factor, {}, 10));
  REQUIRE(caught_up(*rt, "scaled"));
  auto r = rt->reconcile_projection("scaled");
  REQUIRE(r);
  CHECK_FALSE(r->equal);
  CHECK(r->differences == std::vector<std::string>{"by_account.acc-1", "total"});

  AND_THEN("a rebuild repairs it") {
    CHECK_FALSE(rt->rebuild_projection("scaled"));
    auto again = rt->reconcile_projection("scaled");
    REQUIRE(again);
    CHECK(again->equal);
  }
}

TEST_CASE_METHOD(RuntimeFixture, "rebuild and reconcile of an unknown projection are clear errors") {
  auto rt = bank_runtime();
  CHECK(rt->rebuild_projection("nope")->code == errc::unknown_projection);
  CHECK(rt->reconcile_projection("nope").error().code == errc::unknown_projection);
}
