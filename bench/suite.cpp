// The benchmark suite of issue 15: one line per workload, each beside its
// limit measured in the same run (W0: raw SQLite with annals' own schema,
// row shape and PRAGMAs) and the issue's target. bench/README.md describes
// every workload.
//   annals_bench_suite [--quick] [--only W0,W1,...] [--commands N] [--accounts N]
//                      [--w2-events N,N] [--w3-events N] [--w4-aggregates N] [--w4-live N]
//                      [--callers N,N] [--dir PATH]
// Exit 1 when a check fails (a projection's total differs from the one
// computed from the command results, a command was not accepted, a
// snapshot was not written): never for a figure off its target.

#include "bench_support.hpp"

#include <annals/persistence/memory_event_store.hpp>
#include <annals/persistence/sqlite_event_store.hpp>
#include <annals/runtime.hpp>
#include <bank/account.hpp>
#include <bank/projections.hpp>

#include <SQLiteCpp/SQLiteCpp.h>

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using clk = std::chrono::steady_clock;
using annals::bench::cmd;
using annals::bench::pct;

double secs_since(clk::time_point t0) { return std::chrono::duration<double>(clk::now() - t0).count(); }
double us_since(clk::time_point t0) { return std::chrono::duration<double, std::micro>(clk::now() - t0).count(); }
std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
    .count();
}

struct Sizes {
  long w0_rows1 = 3000;        // rows inserted one per transaction (FULL: a third of it)
  long w0_rows100 = 300000;    // rows in 100-row transactions
  long w0_rows1000 = 1000000;  // rows in 1000-row transactions
  int accounts = 1000;
  int commands = 100000;
  std::vector<int> callers = {1, 16, 64};
  std::vector<int> w2_events = {10000, 100000};
  long w3_events = 1000000;
  long w4_aggregates = 1000000;
  long w4_live = 100000;
  int w5_queriers = 64;
};

Sizes quick_sizes() {
  Sizes s;
  s.w0_rows1 = 300;
  s.w0_rows100 = 5000;
  s.w0_rows1000 = 20000;
  s.accounts = 50;
  s.commands = 1500;
  s.w2_events = {1000, 3000};
  s.w3_events = 20000;
  s.w4_aggregates = 3000;
  s.w4_live = 1000;
  s.w5_queriers = 8;
  return s;
}

bool failed = false;  // a check failed: exit 1

void check(bool ok, const std::string& what) {
  if (ok) return;
  failed = true;
  std::printf("CHECK FAILED: %s\n", what.c_str());
  std::fflush(stdout);
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

// One result line: the figure, its limit from the same run, their ratio,
// the target and whether it is met ("-" where the issue names none).
void line(const std::string& workload, const std::string& figure, const std::string& limit = "-",
          const std::string& ratio = "-", const std::string& target = "-", std::optional<bool> met = std::nullopt) {
  std::printf("%-34s | %-62s | limit %-34s | ratio %-6s | target %-26s | met %s\n", workload.c_str(), figure.c_str(),
              limit.c_str(), ratio.c_str(), target.c_str(), met ? (*met ? "yes" : "no") : "-");
  std::fflush(stdout);
}

std::string percent(double r) { return fmt("%.0f%%", 100.0 * r); }

const char* durability_name(annals::Durability d) { return d == annals::Durability::full ? "FULL" : "NORMAL"; }

annals::RuntimeOptions runtime_options(std::shared_ptr<annals::EventStoreProvider> store) {
  annals::RuntimeOptions o;
  o.store = std::move(store);
  o.command_timeout = std::chrono::seconds(120);
  o.log.level = annals::LogLevel::warn;
  return o;
}

std::shared_ptr<annals::EventStoreProvider> sqlite_at(const fs::path& path, annals::Durability d) {
  annals::SqliteStoreOptions s;
  s.path = path.string();
  s.durability = d;
  return annals::sqlite_store(s);
}

// Runs `n` jobs from `threads` threads: job(thread, i) for i = thread, thread + threads, ...
void in_parallel(int threads, long n, const std::function<void(int, long)>& job) {
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (long i = t; i < n; i += threads) job(t, i);
    });
  for (auto& th : pool) th.join();
}

// ---------------------------------------------------------------------------
// Raw SQLite on annals' own file: the same events table, row shape and PRAGMAs.

struct RawStore {
  SQLite::Database db;
  SQLite::Statement insert;
  std::string data = R"({"amount":1})";
  std::string metadata;  // copied from an event annals wrote
  std::map<std::string, std::int64_t> versions;

  RawStore(const fs::path& path, annals::Durability d)
    : db(path.string(), SQLite::OPEN_READWRITE),
      insert(db, "INSERT INTO events(stream_type, stream_id, version, type, schema_version, data, metadata, recorded_at)"
                 " VALUES(?,?,?,?,?,?,?,?)") {
    db.exec("PRAGMA journal_mode=WAL");
    db.exec(d == annals::Durability::full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    SQLite::Statement q(db, "SELECT metadata FROM events ORDER BY position LIMIT 1");
    if (q.executeStep()) metadata = q.getColumn(0).getString();
  }

  void add(const std::string& id, const char* type, const std::string& payload, std::int64_t at) {
    insert.bind(1, "account");
    insert.bind(2, id);
    insert.bind(3, ++versions[id]);
    insert.bind(4, type);
    insert.bind(5, 1);
    insert.bind(6, payload);
    insert.bind(7, metadata);
    insert.bind(8, at);
    insert.exec();
    insert.reset();
  }

  // `rows` deposited events over `streams` streams (ids prefix + k; one
  // stream: prefix), `per_txn` to a transaction; the seconds it took.
  double insert_rows(const std::string& prefix, int streams, long rows, int per_txn) {
    const auto t0 = clk::now();
    for (long done = 0; done < rows;) {
      SQLite::Transaction tx(db);
      const auto at = now_us();
      for (int k = 0; k < per_txn && done < rows; ++k, ++done)
        add(streams == 1 ? prefix : prefix + std::to_string(done % streams), "deposited", data, at);
      tx.commit();
    }
    return secs_since(t0);
  }

  // Reads every column of every event in position order; rows per second.
  double scan(long* rows_out = nullptr) {
    const auto t0 = clk::now();
    SQLite::Statement q(db, "SELECT position, stream_type, stream_id, version, type, schema_version, data, metadata,"
                            " recorded_at FROM events WHERE position>=? ORDER BY position");
    q.bind(1, 1);
    long rows = 0;
    std::size_t bytes = 0;
    while (q.executeStep()) {
      for (int c = 0; c < 9; ++c) bytes += static_cast<std::size_t>(q.getColumn(c).size());
      ++rows;
    }
    const double s = secs_since(t0);
    if (rows_out) *rows_out = rows;
    check(bytes > 0 || rows == 0, "the raw scan read its columns");
    return static_cast<double>(rows) / s;
  }

  // Reads one stream as annals' read_stream does; microseconds (best of 3).
  double read_stream(const std::string& id, long* rows_out = nullptr) {
    double best = 1e18;
    for (int round = 0; round < 3; ++round) {
      const auto t0 = clk::now();
      SQLite::Statement q(db, "SELECT position, version, type, schema_version, data, metadata, recorded_at FROM events"
                              " WHERE stream_type=? AND stream_id=? AND version>=? ORDER BY version LIMIT ?");
      q.bind(1, "account");
      q.bind(2, id);
      q.bind(3, 1);
      q.bind(4, 1000000000);
      long rows = 0;
      while (q.executeStep()) {
        for (int c = 0; c < 7; ++c) (void)q.getColumn(c).size();
        ++rows;
      }
      best = std::min(best, us_since(t0));
      if (rows_out) *rows_out = rows;
    }
    return best;
  }
};

// An annals store file created by annals (one account opened through a
// runtime), so its schema and the row shape are annals' own.
void create_store(const fs::path& path, annals::Durability d) {
  annals::Runtime rt(runtime_options(sqlite_at(path, d)));
  rt.register_aggregate(bank::account_type());
  check(rt.execute(cmd("template", "open", {{"owner", "bench"}})).accepted(), "the template account opens");
}

struct Limits {
  double rows1 = 0, rows100 = 0, rows1000 = 0;  // rows/s
  double scan = 0;                              // rows/s
  double stream_us = 0;                         // reading the W2-sized stream
  long stream_rows = 0;
};

Limits w0(const fs::path& dir, annals::Durability d, const Sizes& sz) {
  const fs::path path = dir / (std::string("w0-") + durability_name(d) + ".db");
  create_store(path, d);
  RawStore raw(path, d);
  Limits l;
  const long rows1 = d == annals::Durability::full ? std::max(100L, sz.w0_rows1 / 3) : sz.w0_rows1;
  l.rows1 = static_cast<double>(rows1) / raw.insert_rows("w0a-", sz.accounts, rows1, 1);
  l.rows100 = static_cast<double>(sz.w0_rows100) / raw.insert_rows("w0b-", sz.accounts, sz.w0_rows100, 100);
  l.rows1000 = static_cast<double>(sz.w0_rows1000) / raw.insert_rows("w0c-", sz.accounts, sz.w0_rows1000, 1000);
  const long stream = sz.w2_events.front();
  raw.insert_rows("w0-stream", 1, stream, 1000);
  long scanned = 0;
  l.scan = raw.scan(&scanned);
  l.stream_us = raw.read_stream("w0-stream", &l.stream_rows);
  const std::string w = std::string("W0 raw SQLite ") + durability_name(d);
  line(w + " insert 1/txn", fmt("%.0f rows/s", l.rows1) + " (" + std::to_string(rows1) + " rows)");
  line(w + " insert 100/txn", fmt("%.0f rows/s", l.rows100) + " (" + std::to_string(sz.w0_rows100) + " rows)");
  line(w + " insert 1000/txn", fmt("%.0f rows/s", l.rows1000) + " (" + std::to_string(sz.w0_rows1000) + " rows)");
  line(w + " full scan", fmt("%.0f rows/s", l.scan) + " (" + std::to_string(scanned) + " rows)");
  line(w + " read one stream", fmt("%.2f ms", l.stream_us / 1000) + " (" + std::to_string(l.stream_rows) + " rows)");
  fs::remove(path);
  return l;
}

// ---------------------------------------------------------------------------
// W1 (and W5, W6): bank deposits and withdrawals with the balances projection live.

struct W1Result {
  int callers = 0;
  double cmd_per_s = 0, events_per_s = 0, p50_us = 0, p99_us = 0;
  std::int64_t events = 0, commits = 0;
  // W5, when queriers ran alongside
  double queries_per_s = 0, q_p50_us = 0, q_p99_us = 0;
  long queries = 0, query_errors = 0;
};

// Commits of the events from `from` on: one append batch is one transaction
// and its events share one commit timestamp.
std::int64_t commits_since(annals::Runtime& rt, std::int64_t from) {
  std::set<std::int64_t> commits;
  for (auto pos = from;;) {
    auto batch = rt.read_all(pos, 20000);
    if (batch.empty()) break;
    for (const auto& e : batch) commits.insert(e.metadata.timestamp_us);
    pos = batch.back().position + 1;
  }
  return static_cast<std::int64_t>(commits.size());
}

W1Result w1(const std::string& name, std::shared_ptr<annals::EventStoreProvider> store, int callers, const Sizes& sz,
            int queriers = 0) {
  constexpr std::int64_t initial = 1000000;  // no withdrawal can overdraw: every command is accepted
  annals::Runtime rt(runtime_options(std::move(store)));
  rt.register_aggregate(bank::account_type());
  rt.register_projection(bank::balances_projection());
  std::atomic<long> not_accepted{0};
  in_parallel(std::min(callers, 16), sz.accounts, [&](int, long a) {
    if (!rt.execute(cmd("acc-" + std::to_string(a), "open", {{"owner", "bench"}, {"initial_deposit", initial}}))
           .accepted())
      ++not_accepted;
  });
  // The commands, from a fixed seed: account, deposit or withdraw, amount.
  struct Job { int account; bool deposit; int amount; };
  std::vector<Job> jobs(static_cast<std::size_t>(sz.commands));
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> account(0, sz.accounts - 1), amount(1, 100), coin(0, 1);
  for (auto& j : jobs) j = Job{account(rng), coin(rng) == 1, amount(rng)};

  W1Result r;
  r.callers = callers;
  const std::int64_t first = rt.head_position() + 1;
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(callers));
  std::vector<std::int64_t> moved(static_cast<std::size_t>(callers), 0);  // accepted deposits - withdrawals
  std::atomic<bool> commands_done{false};
  std::vector<std::vector<double>> qlat(static_cast<std::size_t>(queriers));
  std::atomic<long> query_errors{0};
  std::vector<std::thread> query_threads;
  for (int q = 0; q < queriers; ++q)
    query_threads.emplace_back([&, q] {
      std::mt19937 qrng(1000u + static_cast<unsigned>(q));
      auto& mine = qlat[static_cast<std::size_t>(q)];
      while (!commands_done.load()) {
        const auto t0 = clk::now();
        if (!rt.query("balances", "balance", {{"id", "acc-" + std::to_string(account(qrng))}})) ++query_errors;
        mine.push_back(us_since(t0));
      }
    });
  const auto start = clk::now();
  in_parallel(callers, sz.commands, [&](int t, long i) {
    const Job& j = jobs[static_cast<std::size_t>(i)];
    const auto t0 = clk::now();
    const bool ok = rt.execute(cmd("acc-" + std::to_string(j.account), j.deposit ? "deposit" : "withdraw",
                                   {{"amount", j.amount}}))
                      .accepted();
    lat[static_cast<std::size_t>(t)].push_back(us_since(t0));
    if (ok) moved[static_cast<std::size_t>(t)] += j.deposit ? j.amount : -j.amount;
    else ++not_accepted;
  });
  const double secs = secs_since(start);
  commands_done = true;
  for (auto& th : query_threads) th.join();

  const std::int64_t head = rt.head_position();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  r.events = head - first + 1;
  r.cmd_per_s = static_cast<double>(all.size()) / secs;
  r.events_per_s = static_cast<double>(r.events) / secs;
  r.p50_us = pct(all, 0.50);
  r.p99_us = pct(all, 0.99);
  r.commits = commits_since(rt, first);
  if (queriers > 0) {
    std::vector<double> qall;
    for (auto& v : qlat) qall.insert(qall.end(), v.begin(), v.end());
    r.queries = static_cast<long>(qall.size());
    r.query_errors = query_errors.load();
    r.queries_per_s = static_cast<double>(qall.size()) / secs;
    r.q_p50_us = pct(qall, 0.50);
    r.q_p99_us = pct(qall, 0.99);
    check(r.query_errors == 0, name + ": " + std::to_string(r.query_errors) + " balance queries failed");
  }

  // The projection, caught up to the last command, against the total the
  // command results give.
  std::int64_t expected = initial * sz.accounts;
  for (auto m : moved) expected += m;
  check(not_accepted.load() == 0, name + ": " + std::to_string(not_accepted.load()) + " commands were not accepted");
  auto total = rt.query("balances", "total", {}, head, std::chrono::minutes(5));
  if (!total) {
    check(false, name + ": the balances projection did not catch up: " + total.error().message);
  } else {
    const auto got = total->as_object().at("total").to_number<std::int64_t>();
    check(got == expected, name + ": the balances projection's total " + std::to_string(got) + " != "
                             + std::to_string(expected) + " computed from the command results");
  }
  return r;
}

std::string w1_figure(const W1Result& r) {
  char b[200];
  std::snprintf(b, sizeof b, "%.0f cmd/s %.0f ev/s p50 %.0f us p99 %.0f us %lld commits %.1f cmd/commit",
                r.cmd_per_s, r.events_per_s, r.p50_us, r.p99_us, static_cast<long long>(r.commits),
                r.commits ? static_cast<double>(r.events) / static_cast<double>(r.commits) : 0.0);
  return b;
}

void w1_all(const fs::path& dir, annals::Durability d, const Limits& l, const Sizes& sz) {
  for (int callers : sz.callers) {
    const std::string name = std::string("W1 sqlite ") + durability_name(d) + " callers=" + std::to_string(callers);
    const fs::path path = dir / ("w1-" + std::to_string(callers) + ".db");
    auto r = w1(name, sqlite_at(path, d), callers, sz);
    if (callers == 1) {
      const double ratio = r.events_per_s / l.rows1;
      line(name, w1_figure(r), fmt("%.0f rows/s (W0 1/txn)", l.rows1), percent(ratio), ">=50%, p50 < 100 us",
           ratio >= 0.5 && r.p50_us < 100);
    } else if (callers == 64) {
      const double ratio = r.events_per_s / l.rows100;
      line(name, w1_figure(r), fmt("%.0f rows/s (W0 100/txn)", l.rows100), percent(ratio), ">=70%, p99 < 5 ms",
           ratio >= 0.7 && r.p99_us < 5000);
    } else {
      line(name, w1_figure(r), fmt("%.0f rows/s (W0 100/txn)", l.rows100), percent(r.events_per_s / l.rows100));
    }
    fs::remove(path);
  }
}

// ---------------------------------------------------------------------------
// W2: the first command to a long stream in a fresh runtime.

double first_command_us(const fs::path& path, int snapshot_every, const std::string& id) {
  annals::Runtime rt(runtime_options(sqlite_at(path, annals::Durability::normal)));
  rt.register_aggregate(bank::account_type(snapshot_every));
  const auto t0 = clk::now();
  const bool ok = rt.execute(cmd(id, "deposit", {{"amount", 1}})).accepted();
  const double us = us_since(t0);
  check(ok, "W2: the first command to " + id + " is accepted");
  return us;
}

void w2(const fs::path& dir, const Limits& l, const Sizes& sz) {
  for (int n : sz.w2_events) {
    const fs::path path = dir / ("w2-" + std::to_string(n) + ".db");
    create_store(path, annals::Durability::normal);
    {
      RawStore raw(path, annals::Durability::normal);
      SQLite::Transaction tx(raw.db);
      raw.add("w2", "opened", R"({"owner":"bench"})", now_us());
      tx.commit();
      raw.insert_rows("w2", 1, n - 2, 1000);
    }
    const std::string id = "w2";
    // The (n)th event through a runtime that snapshots every 100: it saves a
    // snapshot at version n (n is a multiple of 100).
    {
      annals::Runtime rt(runtime_options(sqlite_at(path, annals::Durability::normal)));
      rt.register_aggregate(bank::account_type(100));
      auto r = rt.execute(cmd(id, "deposit", {{"amount", 1}}));
      check(r.accepted() && r.version == n, "W2: the stream has " + std::to_string(n) + " events");
    }
    {
      SQLite::Database db(path.string(), SQLite::OPEN_READONLY);
      SQLite::Statement q(db, "SELECT version FROM snapshots WHERE stream_id='w2'");
      check(q.executeStep() && q.getColumn(0).getInt64() == n, "W2: a snapshot was saved at version " + std::to_string(n));
    }
    const double plain = first_command_us(path, 0, id);
    const double snap = first_command_us(path, 100, id);
    const std::string w = "W2 recovery " + std::to_string(n) + " events";
    if (n == sz.w2_events.front()) {
      const double ratio = plain / l.stream_us;
      line(w + " no snapshot", fmt("%.2f ms to the first result", plain / 1000),
           fmt("%.2f ms (W0 read of the stream)", l.stream_us / 1000), fmt("%.1fx", ratio), "within 2x", ratio <= 2);
    } else {
      line(w + " no snapshot", fmt("%.2f ms to the first result", plain / 1000));
    }
    line(w + " snapshot", fmt("%.2f ms to the first result", snap / 1000), "-", "-", "< 2 ms", snap < 2000);
    fs::remove(path);
  }
}

// ---------------------------------------------------------------------------
// W3: the balances projection built from the store.

void w3(const fs::path& dir, const Sizes& sz) {
  const fs::path path = dir / "w3.db";
  create_store(path, annals::Durability::normal);
  long scanned = 0;
  double scan = 0;
  {
    RawStore raw(path, annals::Durability::normal);
    raw.insert_rows("w3-", sz.accounts, sz.w3_events - 1, 1000);
    scan = raw.scan(&scanned);
  }
  annals::Runtime rt(runtime_options(sqlite_at(path, annals::Durability::normal)));
  rt.register_aggregate(bank::account_type());
  const std::int64_t head = rt.head_position();
  const auto t0 = clk::now();
  rt.register_projection(bank::balances_projection());
  auto total = rt.query("balances", "total", {}, head, std::chrono::minutes(30));
  const double secs = secs_since(t0);
  if (!total) {
    check(false, "W3: the projection did not catch up: " + total.error().message);
  } else {
    check(total->as_object().at("total").to_number<std::int64_t>() == sz.w3_events - 1,
          "W3: the projection's total is the number of deposits");
  }
  const double rate = static_cast<double>(head) / secs;
  line("W3 replay " + std::to_string(head) + " events", fmt("%.0f events/s", rate),
       fmt("%.0f rows/s (W0 scan, same file)", scan), percent(rate / scan), ">=50%", rate / scan >= 0.5);
  fs::remove(path);
}

// ---------------------------------------------------------------------------
// W4: a flood of distinct aggregates with passivation on.

long status_kb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string l;
  const std::string key = std::string(field) + ":";
  while (std::getline(in, l))
    if (l.rfind(key, 0) == 0) return std::atol(l.c_str() + key.size());
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

void w4(const fs::path& dir, const Sizes& sz) {
  const fs::path path = dir / "w4.db";
  { std::ofstream("/proc/self/clear_refs") << "5"; }  // resets VmHWM: the peak is W4's own
  auto opts = runtime_options(sqlite_at(path, annals::Durability::normal));
  opts.max_active_aggregates = static_cast<std::size_t>(sz.w4_live);
  auto rt = std::make_unique<annals::Runtime>(opts);
  rt->register_aggregate(bank::account_type());
  std::atomic<long> not_accepted{0};
  auto touch = [&](long from, long to) {
    in_parallel(16, to - from, [&](int, long i) {
      if (!rt->execute(cmd("w4-" + std::to_string(from + i), "open", {{"owner", "bench"}})).accepted()) ++not_accepted;
    });
  };
  touch(0, 100);  // warm: the store's statements, the actors' first allocations
  const long rss0 = status_kb("VmRSS");
  const std::size_t active0 = rt->active_aggregates();
  const auto t0 = clk::now();
  touch(100, sz.w4_live);
  const long rss1 = status_kb("VmRSS");
  const std::size_t active1 = rt->active_aggregates();
  touch(sz.w4_live, sz.w4_aggregates);
  const double secs = secs_since(t0);
  const long peak = status_kb("VmHWM");
  const std::size_t live = rt->active_aggregates();
  const auto s0 = clk::now();
  rt.reset();
  const double shutdown = secs_since(s0);
  check(not_accepted.load() == 0, "W4: " + std::to_string(not_accepted.load()) + " opens were not accepted");
  const double per = active1 > active0 ? static_cast<double>(rss1 - rss0) * 1024.0 / static_cast<double>(active1 - active0)
                                       : 0;
  const std::string n = std::to_string(sz.w4_aggregates);
  line("W4 memory " + n + " aggregates", fmt("peak RSS %.0f MB", static_cast<double>(peak) / 1024) +
                                           fmt(" (%.0f opens/s)", static_cast<double>(sz.w4_aggregates - 100) / secs),
       "-", "-", "< 300 MB", peak < 300 * 1024);
  line("W4 memory per live aggregate", fmt("%.0f bytes", per) + " (" + std::to_string(active1 - active0) + " live)",
       "-", "-", "<= 1 KB", per <= 1024);
  line("W4 shutdown " + std::to_string(live) + " live", fmt("%.2f s", shutdown), "-", "-", "< 2 s", shutdown < 2);
  fs::remove(path);
}

// ---------------------------------------------------------------------------

std::vector<int> int_list(const std::string& s) {
  std::vector<int> v;
  std::stringstream in(s);
  for (std::string x; std::getline(in, x, ',');) v.push_back(std::stoi(x));
  return v;
}

int usage() {
  std::fprintf(stderr,
               "usage: annals_bench_suite [--quick] [--only W0,W1,W2,W3,W4,W5,W6] [--commands N] [--accounts N]\n"
               "                          [--callers N,N] [--w2-events N,N] [--w3-events N] [--w4-aggregates N]\n"
               "                          [--w4-live N] [--dir PATH]\n");
  return 2;
}

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  Sizes sz;
  for (const auto& a : args)
    if (a == "--quick") sz = quick_sizes();
  std::set<std::string> only = {"W0", "W1", "W2", "W3", "W4", "W5", "W6"};
  fs::path base = fs::temp_directory_path();
  try {
    for (std::size_t i = 0; i < args.size(); ++i) {
      const auto& a = args[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= args.size()) throw std::invalid_argument(a + " needs a value");
        return args[++i];
      };
      if (a == "--quick") continue;
      if (a == "--only") {
        only.clear();
        std::stringstream in(next());
        for (std::string w; std::getline(in, w, ',');) only.insert(w);
      } else if (a == "--commands") sz.commands = std::stoi(next());
      else if (a == "--accounts") sz.accounts = std::stoi(next());
      else if (a == "--callers") sz.callers = int_list(next());
      else if (a == "--w2-events") sz.w2_events = int_list(next());
      else if (a == "--w3-events") sz.w3_events = std::stol(next());
      else if (a == "--w4-aggregates") sz.w4_aggregates = std::stol(next());
      else if (a == "--w4-live") sz.w4_live = std::stol(next());
      else if (a == "--dir") base = next();
      else return usage();
    }
    for (int n : sz.w2_events)
      if (n < 200 || n % 100 != 0) throw std::invalid_argument("--w2-events: multiples of 100, at least 200");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "annals_bench_suite: %s\n", e.what());
    return usage();
  }
  const fs::path dir = base / ("annals-bench-suite-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::printf("annals benchmark suite (%u hardware threads, %d commands, %d accounts)\n",
              std::thread::hardware_concurrency(), sz.commands, sz.accounts);
  std::fflush(stdout);
  const bool limits_needed = only.count("W0") || only.count("W1") || only.count("W2");
  std::map<annals::Durability, Limits> limits;
  if (limits_needed)
    for (auto d : {annals::Durability::normal, annals::Durability::full}) limits[d] = w0(dir, d, sz);
  if (only.count("W1"))
    for (auto d : {annals::Durability::normal, annals::Durability::full}) w1_all(dir, d, limits[d], sz);
  if (only.count("W2")) w2(dir, limits[annals::Durability::normal], sz);
  if (only.count("W3")) w3(dir, sz);
  if (only.count("W5")) {
    const fs::path path = dir / "w5.db";
    auto r = w1("W5 queries (W1 NORMAL callers=16)", sqlite_at(path, annals::Durability::normal), 16, sz,
                sz.w5_queriers);
    char b[200];
    std::snprintf(b, sizeof b, "%.0f queries/s p50 %.0f us p99 %.0f us (%d queriers)", r.queries_per_s, r.q_p50_us,
                  r.q_p99_us, sz.w5_queriers);
    line("W5 queries during W1 callers=16", b, "-", "-", ">=50000/s, p99 < 5 ms",
         r.queries_per_s >= 50000 && r.q_p99_us < 5000);
    line("W5 its commands", w1_figure(r));
    fs::remove(path);
  }
  if (only.count("W6"))
    for (int callers : sz.callers) {
      const std::string name = "W6 memory store callers=" + std::to_string(callers);
      line(name, w1_figure(w1(name, annals::memory_store(), callers, sz)));
    }
  if (only.count("W4")) w4(dir, sz);
  fs::remove_all(dir);
  std::printf("%s\n", failed ? "FAILED: a check did not pass (see CHECK FAILED above)" : "all checks passed");
  return failed ? 1 : 0;
}
