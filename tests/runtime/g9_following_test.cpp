// G9: projections follow the whole log. Events another process commits to
// the same store are applied like local ones (exactly once, in order), and
// a min_position from another process's command is honoured; the metrics
// count them; on PostgreSQL a commit's notice wakes the follower. The other
// process is annals_test_writer (tests/support/test_writer.cpp) with a
// runtime of its own on the same SQLite file or PostgreSQL database.

#include "child_process.hpp"
#include "postgres_server.hpp"
#include "runtime_fixture.hpp"
#include "test_projections.hpp"

#include <annals/fault_injector.hpp>
#include <annals/persistence/store_url.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <vector>

using namespace annals;
using namespace annals::test;

namespace {

constexpr auto patience = std::chrono::seconds(30);

// How many commands a race writer acknowledged (its output up to STATS).
int acknowledged_by(WriterProcess& w) {
  int acked = 0;
  for (std::string line = w.read_line(); !line.empty(); line = w.read_line()) {
    INFO("race writer line: " << line);
    if (line.rfind("ACK ", 0) == 0) ++acked;
    else if (line.rfind("STATS ", 0) == 0) break;
    else FAIL("the other process did not get its commands acknowledged: " << line);
  }
  return acked;
}

// Two processes on the store `url` deposit at the same time, then the other
// one alone; this process's projections must end at the store's head with
// every position applied once, in order, equal to a fresh rebuild.
void both_processes_write_then_the_other_alone(RuntimeOptions o, const std::string& url, const std::string& start) {
  constexpr int accounts = 3, per_account = 60;
  o.store = open_store_url(url);
  auto rt = std::make_unique<Runtime>(std::move(o));
  rt->register_aggregate(bank::account_type());
  rt->register_projection(recorder("rec"));
  rt->register_projection(sums("sums"));
  for (int a = 0; a < accounts; ++a) {
    REQUIRE(rt->execute(open_account("race-" + std::to_string(a))).accepted());
    REQUIRE(rt->execute(open_account("local-" + std::to_string(a))).accepted());
  }
  WriterProcess other({"race", url, start, "other", std::to_string(accounts), std::to_string(per_account)});
  REQUIRE(other.read_line() == "READY");
  { std::ofstream(start) << "go\n"; }
  std::vector<std::future<CommandResult>> local;
  for (int i = 0; i < accounts * per_account; ++i)
    local.push_back(rt->execute_async(deposit("local-" + std::to_string(i % accounts), 1)));
  int local_acked = 0;
  for (auto& f : local) local_acked += f.get().accepted() ? 1 : 0;
  const int other_acked = acknowledged_by(other);
  REQUIRE(other.wait() == 0);
  // Nothing of these reaches this process through its own journal: only following the log shows them.
  REQUIRE(run_writer({"deposit", url, "race-0", "7"}) == 0);
  const std::int64_t head = open_store_url(url)->connect()->head_position();

  REQUIRE(local_acked == accounts * per_account);
  REQUIRE(other_acked == accounts * per_account);
  REQUIRE(head == 2 * accounts + local_acked + other_acked + 7);
  INFO("the recorder's checkpoint stays below the head when another process's events are not followed");
  REQUIRE(wait_until([&] {
    auto st = rt->projection_status("rec");
    return st && st->checkpoint == head;
  }, patience));
  CHECK(json::serialize(*rt->query("rec", "positions")) == json::serialize(one_to(head)));
  REQUIRE(wait_until([&] {
    auto st = rt->projection_status("sums");
    return st && st->checkpoint == head && st->backlog == 0;
  }, patience));
  CHECK(rt->query("sums", "total")->as_int64() == local_acked + other_acked + 7);
  auto rec = rt->reconcile_projection("sums");
  REQUIRE(rec);
  CHECK(rec->equal);
  CHECK(rec->position == head);
}

const ProjectionStats* stats_of(const MetricsSnapshot& m, const std::string& projection) {
  for (const auto& p : m.projections)
    if (p.projection == projection) return &p;
  return nullptr;
}

// The recorder of this process applies slowly while another process on the
// store `url` deposits 7 times: its backlog metric must show the other
// process's events waiting, then 0 at the head, with each of them counted
// once as applied and in the lag histogram.
void metrics_count_the_other_process_events(RuntimeOptions o, const std::string& url) {
  o.store = open_store_url(url);
  auto rt = std::make_unique<Runtime>(std::move(o));
  rt->register_aggregate(bank::account_type());
  rt->register_projection(recorder("rec"));
  REQUIRE(rt->execute(open_account("acc-1")).accepted());
  REQUIRE(wait_until([&] {
    auto st = rt->projection_status("rec");
    return st && st->checkpoint == 1;
  }, patience));
  FaultInjector faults(*rt);
  REQUIRE_FALSE(faults.delay_projection("rec", std::chrono::milliseconds(150)));

  REQUIRE(run_writer({"deposit", url, "acc-1", "7"}) == 0);
  const std::int64_t head = 8;

  INFO("the backlog metric stays 0 when the projector does not learn of another process's commits");
  REQUIRE(wait_until([&] {
    const auto m = rt->metrics();
    const auto* p = stats_of(m, "rec");
    return p && p->backlog > 0 && p->backlog == head - p->checkpoint;
  }, patience));
  faults.clear_projection_faults("rec");
  REQUIRE(wait_until([&] {
    const auto m = rt->metrics();
    const auto* p = stats_of(m, "rec");
    return p && p->checkpoint == head && p->backlog == 0;
  }, patience));
  const auto m = rt->metrics();
  const auto* p = stats_of(m, "rec");
  REQUIRE(p);
  CHECK(p->applied == static_cast<std::uint64_t>(head));
  CHECK(p->lag.count == static_cast<std::uint64_t>(head));
  CHECK(json::serialize(*rt->query("rec", "positions")) == json::serialize(one_to(head)));
}

} // namespace

SCENARIO_METHOD(RuntimeFixture, "G9 backlog and lag metrics count the events another process commits to the same SQLite file") {
  GIVEN("this process's runtime with a slow recorder, and another process on the same file") {
    WHEN("the other process deposits 7 times") {
      THEN("the recorder's backlog shows them waiting, then 0 at the head; applied and lag count each once") {
        metrics_count_the_other_process_events(options(), db);
      }
    }
  }
}

SCENARIO_METHOD(RuntimeFixture, "G9 backlog and lag metrics count the events another process commits to the same PostgreSQL database") {
  GIVEN("this process's runtime with a slow recorder, and another process on one database of the tests' server") {
    const std::string url = PostgresServer::shared().create_database();
    WHEN("the other process deposits 7 times") {
      THEN("the recorder's backlog shows them waiting, then 0 at the head; applied and lag count each once") {
        metrics_count_the_other_process_events(options(), url);
      }
    }
  }
}

SCENARIO_METHOD(RuntimeFixture, "G9 on PostgreSQL another process's commit wakes this process's projections at once (LISTEN/NOTIFY), not at the next poll") {
  GIVEN("this process's runtime on PostgreSQL whose poll interval is an hour, with a recorder, and an account opened") {
    const std::string url = PostgresServer::shared().create_database();
    auto o = options();
    o.store = open_store_url(url);
    o.projections.follow_interval = std::chrono::hours(1);
    auto rt = std::make_unique<Runtime>(std::move(o));
    rt->register_aggregate(bank::account_type());
    rt->register_projection(recorder("rec"));
    REQUIRE(rt->execute(open_account("acc-1")).accepted());
    REQUIRE(wait_until([&] {
      auto st = rt->projection_status("rec");
      return st && st->checkpoint == 1;
    }, patience));
    WHEN("another process deposits twice, one process after the other") {
      REQUIRE(run_writer({"deposit", url, "acc-1", "1"}) == 0);
      auto first = rt->query("rec", "positions", {}, 2, std::chrono::seconds(20));
      REQUIRE(run_writer({"deposit", url, "acc-1", "1"}) == 0);
      auto second = rt->query("rec", "positions", {}, 3, std::chrono::seconds(20));
      THEN("each deposit reaches the recorder well before the hour is up: the commit's notice woke the follower") {
        INFO((first ? std::string() : first.error().message));
        REQUIRE(first);
        INFO((second ? std::string() : second.error().message));
        REQUIRE(second);
        CHECK(json::serialize(*second) == "[1,2,3]");
      }
    }
  }
}

SCENARIO_METHOD(RuntimeFixture, "G9 projections apply the events another process commits to the same SQLite file, each once and in order") {
  GIVEN("this process's runtime with a recorder and a sums projection, and a second process on the same file") {
    WHEN("both processes deposit at the same time, then the other one deposits alone after this one stopped") {
      THEN("this process's projections reach the store's head, every position applied once in order, nothing missed") {
        both_processes_write_then_the_other_alone(options(), db, dir.file("start"));
      }
    }
  }
}

SCENARIO_METHOD(RuntimeFixture, "G9 projections apply the events another process commits to the same PostgreSQL database, each once and in order") {
  GIVEN("this process's runtime and a second process on one database of the tests' PostgreSQL server") {
    const std::string url = PostgresServer::shared().create_database();
    WHEN("both processes deposit at the same time, then the other one deposits alone after this one stopped") {
      THEN("this process's projections reach the store's head, every position applied once in order, nothing missed") {
        both_processes_write_then_the_other_alone(options(), url, dir.file("start"));
      }
    }
  }
}

SCENARIO_METHOD(RuntimeFixture, "G9 a query with min_position from another process's command waits for that event and answers") {
  GIVEN("this process's runtime with a sums projection, idle, and an account opened") {
    auto rt = bank_runtime();
    rt->register_projection(sums("sums"));
    REQUIRE(rt->execute(open_account("acc-1")).accepted());
    WHEN("another process deposits and hands over its command's position") {
      WriterProcess other({"crash", db, "acc-1"});  // deposits 1 forever, printing "ACK <version> <position>"
      std::istringstream ack(other.read_line());
      std::string word;
      std::int64_t version = 0, position = 0;
      ack >> word >> version >> position;
      REQUIRE(word == "ACK");
      other.kill(SIGKILL);
      THEN("this process's query with that min_position answers with the deposit in it (read-your-writes across processes)") {
        auto total = rt->query("sums", "total", {}, position, std::chrono::seconds(20));
        INFO((total ? std::string() : total.error().message));
        REQUIRE(total);
        CHECK(total->as_int64() >= 1);
        auto st = rt->projection_status("sums");
        REQUIRE(st);
        CHECK(st->checkpoint >= position);
      }
    }
  }
}

SCENARIO_METHOD(RuntimeFixture, "G9 with following off (follow_interval 0) another process's events wait for this process's own next commit") {
  GIVEN("a runtime that does not follow the log, and another process that deposits once") {
    auto o = options();
    o.projections.follow_interval = std::chrono::milliseconds(0);
    auto rt = bank_runtime(o);
    rt->register_projection(recorder("rec"));
    REQUIRE(rt->execute(open_account("acc-1")).accepted());
    REQUIRE(run_writer({"deposit", db, "acc-1", "1"}) == 0);
    WHEN("a query waits for the other process's position") {
      auto r = rt->query("rec", "positions", {}, 2, std::chrono::milliseconds(300));
      THEN("it times out (the setting is honoured: nothing polls the store)") {
        REQUIRE_FALSE(r);
        CHECK(r.error().code == errc::timeout);
        AND_THEN("this process's next commit brings the missed event along, in order") {
          REQUIRE(rt->execute(deposit("acc-1", 1)).accepted());
          auto positions = rt->query("rec", "positions", {}, 3, std::chrono::seconds(20));
          REQUIRE(positions);
          CHECK(json::serialize(*positions) == "[1,2,3]");
        }
      }
    }
  }
}
