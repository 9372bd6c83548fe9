// A runtime on PostgreSQL whose server restarts while commands flow: the
// commands in flight fail as store_unavailable or outcome_unknown (never
// hang, never a false acknowledgement), the runtime's connections reopen by
// themselves, and every acknowledged event is in the log.

#include "bank_commands.hpp"
#include "postgres_server.hpp"
#include "wait_until.hpp"

#include <annals/persistence/postgres_event_store.hpp>
#include <annals/runtime.hpp>
#include <bank/account.hpp>
#include <bank/projections.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace annals;
using namespace annals::test;

SCENARIO("G1 PostgreSQL restarted mid-run: commands in flight fail cleanly, the runtime reconnects by itself, "
         "no acknowledged event is lost", "[runtime][postgres][restart]") {
  auto server = PostgresServer::start_own();
  server->exec("postgres", "CREATE DATABASE restart_run");
  PostgresStoreOptions so;
  so.url = server->url("restart_run");
  RuntimeOptions o;
  o.store = postgres_store(so);
  o.command_timeout = std::chrono::seconds(20);
  o.log.level = LogLevel::off;  // hundreds of expected failures while the server is down
  auto rt = std::make_unique<Runtime>(o);
  rt->register_aggregate(bank::account_type());
  rt->register_projection(bank::balances_projection());
  constexpr int accounts = 4;
  for (int a = 0; a < accounts; ++a) REQUIRE(rt->execute(open_account("acc-" + std::to_string(a))).accepted());

  std::mutex m;
  std::vector<CommandResult> results;
  std::atomic<bool> stop{false}, restarted{false};
  std::atomic<int> accepted_before{0}, accepted_after{0};
  std::vector<std::thread> senders;
  for (int a = 0; a < accounts; ++a)
    senders.emplace_back([&, a] {
      for (int n = 0; !stop; ++n) {
        auto c = deposit("acc-" + std::to_string(a), 1);
        c.command_id = "acc-" + std::to_string(a) + "-" + std::to_string(n);
        auto r = rt->execute(c);
        if (r.accepted()) ++(restarted ? accepted_after : accepted_before);
        std::lock_guard<std::mutex> lock(m);
        results.push_back(std::move(r));
      }
    });

  const bool served_before = wait_until([&] { return accepted_before >= 40; });
  const auto restart_began = std::chrono::steady_clock::now();
  server->restart();
  const auto restart_took = std::chrono::steady_clock::now() - restart_began;
  restarted = true;
  const bool served_again = served_before && wait_until([&] { return accepted_after >= 40; }, std::chrono::seconds(60));
  stop = true;
  for (auto& t : senders) t.join();
  // What happened, for a failure's report.
  INFO("accepted before the restart " << accepted_before << ", after " << accepted_after << "; the restart took "
       << std::chrono::duration_cast<std::chrono::milliseconds>(restart_took).count() << " ms; "
       << results.size() << " results");
  REQUIRE(served_before);

  THEN("each command was accepted or failed as store_unavailable or outcome_unknown, and every acknowledged "
       "event is stored where its reply said") {
    std::map<std::string, int> failures;
    std::string last_failure;
    for (const auto& r : results)
      if (!r.accepted()) {
        ++failures[r.error ? r.error->code : "no error"];
        if (r.error) last_failure = r.error->message;
      }
    INFO("the last failure: " << last_failure);
    CHECK(served_again);
    for (const auto& [code, n] : failures) {
      INFO(code << " x" << n);
      CHECK((code == "store_unavailable" || code == "outcome_unknown"));
    }
    auto store = o.store->connect();
    std::map<std::int64_t, Event> by_position;
    for (auto& e : store->read_all(1, 1000000)) by_position.emplace(e.position, std::move(e));
    std::size_t lost = 0;
    for (const auto& r : results) {
      if (!r.accepted()) continue;
      for (const auto& e : r.events) {
        auto it = by_position.find(e.position);
        if (it == by_position.end() || it->second.stream.id != r.id || it->second.version != e.version) ++lost;
      }
    }
    CHECK(lost == 0);
    // Dense positions, and the projection caught up with all of them.
    CHECK(static_cast<std::int64_t>(by_position.size()) == store->head_position());
    CHECK(wait_until([&] {
      auto st = rt->projection_status("balances");
      return st && st->running && st->checkpoint == rt->head_position();
    }));
  }
}
