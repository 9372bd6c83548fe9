// Metrics: what operators watch, counted where it happens, readable as a
// snapshot and in Prometheus' text format.

#include "runtime_fixture.hpp"
#include "test_projections.hpp"

#include <bank/projections.hpp>

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>

using namespace annals;
using namespace annals::test;

namespace {

const CommandStats& stats_of(const MetricsSnapshot& m, const std::string& aggregate, const std::string& command) {
  for (const auto& c : m.commands)
    if (c.aggregate == aggregate && c.command == command) return c;
  throw std::runtime_error("no command stats for " + aggregate + "/" + command);
}

const ProjectionStats& projection_of(const MetricsSnapshot& m, const std::string& name) {
  for (const auto& p : m.projections)
    if (p.projection == name) return p;
  throw std::runtime_error("no projection stats for " + name);
}

} // namespace

TEST_CASE_METHOD(RuntimeFixture, "metrics count command outcomes per aggregate and command type") {
  auto o = options();
  o.authorize = [](const std::string& principal, const Command& c) {
    return principal == "intruder" && c.command == "withdraw" ? AuthDecision::deny("intruders may not withdraw")
                                                               : AuthDecision::allow();
  };
  auto rt = bank_runtime(o);
  REQUIRE(rt->execute(open_account("acc-1")).accepted());
  for (int i = 0; i < 10; ++i) REQUIRE(rt->execute(deposit("acc-1", 1)).accepted());
  REQUIRE(rt->execute(deposit("acc-1", 5, "k-1")).accepted());
  REQUIRE(rt->execute(deposit("acc-1", 5, "k-1")).replayed);
  CHECK(rt->execute(withdraw("acc-1", 1000)).code() == "insufficient_funds");
  auto denied = withdraw("acc-1", 1);
  denied.metadata.principal = "intruder";
  CHECK(rt->execute(denied).code() == errc::forbidden);
  CHECK(rt->execute_json("{not json").code() == errc::invalid_command);
  CHECK(rt->execute(account_command("acc-1", "transfer")).code() == errc::unknown_command);

  auto m = rt->metrics();
  const auto& dep = stats_of(m, "account", "deposit");
  CHECK(dep.accepted == 12);
  CHECK(dep.replays == 1);
  CHECK(dep.rejected == 0);
  CHECK(dep.latency.count == 12);
  const auto& wd = stats_of(m, "account", "withdraw");
  CHECK(wd.rejected == 1);
  CHECK(wd.denied == 1);
  CHECK(wd.accepted == 0);
  CHECK(stats_of(m, "(invalid)", "(invalid)").rejected == 2);
  const auto totals = m.command_totals();
  CHECK(totals.accepted == 13);
  CHECK(totals.latency.count == 17);
}

TEST_CASE_METHOD(RuntimeFixture, "command latency percentiles are ordered and within what was observed") {
  auto rt = bank_runtime();
  REQUIRE(rt->execute(open_account("acc-1")).accepted());
  for (int i = 0; i < 200; ++i) REQUIRE(rt->execute(deposit("acc-1", 1)).accepted());
  // The snapshot is kept: stats_of returns a reference into it (ASan found
  // this test reading a destroyed temporary snapshot).
  const auto m = rt->metrics();
  const auto& l = stats_of(m, "account", "deposit").latency;
  CHECK(l.count == 200);
  CHECK(l.p50 > 0);
  CHECK(l.p50 <= l.p95);
  CHECK(l.p95 <= l.p99);
  CHECK(l.p99 <= 10.0);
  CHECK(l.sum / 200 <= l.p99 * 2);  // the mean is not far outside the percentiles
}

TEST_CASE_METHOD(RuntimeFixture, "overall command and query latency merge every series' histogram") {
  auto rt = bank_runtime();
  rt->register_projection(bank::balances_projection());
  REQUIRE(rt->execute(open_account("acc-1")).accepted());
  for (int i = 0; i < 50; ++i) REQUIRE(rt->execute(deposit("acc-1", 1)).accepted());
  for (int i = 0; i < 10; ++i) REQUIRE(rt->query("balances", "balance", {{"id", "acc-1"}}, 1));
  const auto m = rt->metrics();
  CHECK(m.command_latency.count == 51);
  CHECK(m.command_totals().latency.count == 51);
  CHECK(m.command_latency.p50 > 0);
  CHECK(m.command_latency.p50 <= m.command_latency.p99);
  CHECK(m.query_latency.count == 10);
  CHECK(m.query_latency.p99 > 0);
}

TEST_CASE_METHOD(RuntimeFixture, "metrics show projections: applied, checkpoint, backlog, lag, restarts, errors, parked") {
  auto fixed = std::make_shared<std::atomic<bool>>(false);
  auto o = options();
  o.projections.initial_backoff = std::chrono::milliseconds(5);
  o.projections.max_attempts = 2;
  auto rt = bank_runtime(o);
  rt->register_projection(sums("picky", [fixed](const Event& e) {
    if (e.data.at("amount").as_int64() == 13 && !*fixed) throw std::runtime_error("no 13");
  }));
  rt->register_projection(recorder("rec"));
  REQUIRE(rt->execute(open_account("acc-1")).accepted());
  for (int i = 1; i <= 20; ++i) REQUIRE(rt->execute(deposit("acc-1", i)).accepted());
  REQUIRE(caught_up(*rt, "rec"));
  REQUIRE(eventually([&] { return rt->projection_status("picky")->parked == 1; }));
  REQUIRE(caught_up(*rt, "picky"));

  auto m = rt->metrics();
  const auto& rec = projection_of(m, "rec");
  CHECK(rec.applied == 21);
  CHECK(rec.checkpoint == 21);
  CHECK(rec.backlog == 0);
  CHECK(rec.lag.count == 21);
  CHECK(rec.restarts == 0);
  const auto& picky = projection_of(m, "picky");
  CHECK(picky.restarts == 2);
  CHECK(picky.errors == 2);
  CHECK(picky.parked == 1);
  CHECK(picky.checkpoint == 21);
}

TEST_CASE_METHOD(RuntimeFixture, "metrics count queries and the active aggregates") {
  auto o = options();
  o.passivate_after = std::chrono::milliseconds(100);
  auto rt = bank_runtime(o);
  rt->register_projection(bank::balances_projection());
  for (int a = 0; a < 3; ++a) REQUIRE(rt->execute(open_account("acc-" + std::to_string(a))).accepted());
  auto active = [&] {
    for (const auto& a : rt->metrics().aggregates)
      if (a.aggregate == "account") return a.active;
    return std::int64_t{-1};
  };
  CHECK(active() == 3);
  REQUIRE(caught_up(*rt, "balances"));
  for (int i = 0; i < 5; ++i) REQUIRE(rt->query("balances", "total"));
  CHECK_FALSE(rt->query("balances", "balance", {{"id", "nobody"}}));
  CHECK_FALSE(rt->query("balances", "no_such_query"));
  auto m = rt->metrics();
  std::uint64_t total_ok = 0, total_errors = 0, recoveries = 0;
  for (const auto& q : m.queries) {
    total_ok += q.ok;
    total_errors += q.errors;
  }
  for (const auto& a : m.aggregates) recoveries += a.recoveries;
  CHECK(total_ok == 5);
  CHECK(total_errors == 2);
  CHECK(m.query_total() == 7);
  CHECK(recoveries == 3);
  REQUIRE(eventually([&] { return active() == 0; }));
}

TEST_CASE_METHOD(RuntimeFixture, "metrics_text is Prometheus text that promtool accepts") {
  auto rt = bank_runtime();
  rt->register_projection(bank::balances_projection());
  REQUIRE(rt->execute(open_account("acc-1")).accepted());
  REQUIRE(rt->execute(deposit("acc-1", 3)).accepted());
  REQUIRE(caught_up(*rt, "balances"));
  REQUIRE(rt->query("balances", "total"));
  const std::string text = rt->metrics_text();
  CHECK(text.find("annals_commands_total{") != std::string::npos);
  CHECK(text.find("annals_command_duration_seconds_bucket{") != std::string::npos);
  CHECK(text.find("annals_projection_lag_seconds_count{") != std::string::npos);
  const std::string file = dir.file("metrics.txt");
  std::ofstream(file) << text;
  const std::string cmd = "promtool check metrics < '" + file + "' > '" + file + ".out' 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream out(file + ".out");
  std::string said((std::istreambuf_iterator<char>(out)), {});
  INFO("promtool said: " << said);
  CHECK(rc == 0);
}
