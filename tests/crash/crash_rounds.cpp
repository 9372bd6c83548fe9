// annals_crash_rounds: crash rounds against the bank HTTP service
// (docs/reliability.md). Starts bank_service on an SQLite file in a child
// process, drives commands with idempotency keys from several caller
// threads, SIGKILLs the child at seeded random moments, restarts it, retries
// every command whose outcome it never learned (same key) until it learns
// it, and after each round checks the store and the read models against
// every result it was told:
//   - every acknowledged event is stored, at its version and position;
//   - nothing is stored that no command caused (each event's causation id is
//     the key of a command that was acknowledged), nothing twice;
//   - versions are contiguous in every stream;
//   - balances equal the acknowledged deposits minus withdrawals (no doubled
//     effect), in the live read model and in the daily totals;
//   - the live read models equal a fresh rebuild (`annals reconcile`).
// Exit codes: 0 every check held, 1 a check failed, 2 bad command line,
// 3 the service could not be started or answered nothing.

#include <annals/persistence/sqlite_event_store.hpp>

#include "http_client.hpp"
#include "wait_until.hpp"

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

namespace http = boost::beast::http;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

struct Options {
  int rounds = 20;
  std::uint64_t seed = 0;
  bool seed_given = false;
  std::string service = ANNALS_BANK_SERVICE;
  std::string cli = ANNALS_CLI;
  std::string dir;
  int callers = 8;
  int accounts = 6;
  int min_kill_ms = 100;
  int max_kill_ms = 700;
  std::string durability = "normal";
  int snapshot_every = 100;
  int projection_snapshot_every = 0;
  bool keep = false;
};

// ---- child processes ---------------------------------------------------------------------------

// Starts args[0] with `args`, its standard output and error into `log` (log_mode: O_APPEND or
// O_TRUNC); the child's pid, or -1 if it could not fork.
pid_t spawn(std::vector<std::string> args, const std::string& log, int log_mode) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  if (int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | log_mode, 0644); fd >= 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(argv[0], argv.data());
  ::_exit(127);
}

// Waits for the child to end; its exit code (-signal if killed).
int reap(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
}

// ---- the service in a child process ------------------------------------------------------------

class ServiceProcess {
public:
  ServiceProcess(const Options& o, std::string store, std::string log) : o_(o), store_(std::move(store)), log_(std::move(log)) {}
  ~ServiceProcess() { kill(SIGKILL); }

  // Starts it and waits for its "listening on" line; the port, or 0 if it did not start.
  std::uint16_t start() {
    const auto offset = std::filesystem::exists(log_) ? std::filesystem::file_size(log_) : 0;
    std::vector<std::string> args{o_.service, "--port", "0", "--store", store_, "--durability", o_.durability,
                                  "--snapshot-every", std::to_string(o_.snapshot_every),
                                  "--projection-snapshot-every", std::to_string(o_.projection_snapshot_every)};
    pid_ = spawn(std::move(args), log_, O_APPEND);
    if (pid_ < 0) return 0;
    const std::string marker = "listening on http://127.0.0.1:";
    std::uint16_t port = 0;
    annals::test::wait_until([&] {
      std::ifstream in(log_);
      in.seekg(static_cast<std::streamoff>(offset));
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (auto at = text.find(marker); at != std::string::npos) {
        port = static_cast<std::uint16_t>(std::stoi(text.substr(at + marker.size())));
        return true;
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {  // it ended before it listened
        pid_ = -1;
        return true;
      }
      return false;
    }, 30s);
    return port;
  }

  // Sends `sig` and reaps the process; its exit code (-signal if killed).
  int kill(int sig) {
    if (pid_ <= 0) return 0;
    ::kill(pid_, sig);
    return reap(std::exchange(pid_, -1));
  }

private:
  const Options& o_;
  std::string store_, log_;
  pid_t pid_ = -1;
};

// Runs a program to completion, its output into `log`; the exit code.
int run_program(std::vector<std::string> args, const std::string& log) {
  const pid_t pid = spawn(std::move(args), log, O_TRUNC);
  return pid < 0 ? -1 : reap(pid);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// ---- an HTTP client (one keep-alive connection, every step bounded) ----------------------------

using Response = annals::test::HttpResponse;

// Connects when needed and again after a failure.
class Client {
public:
  explicit Client(std::uint16_t port) : port_(port) {}

  // The answer, or nullopt if none came (refused, reset, timed out).
  std::optional<Response> send(http::verb verb, const std::string& target, const std::string& body = {}) {
    try {
      if (!connection_) connection_.emplace(port_, 15s);  // longer than the service's command timeout (5 s)
      auto res = connection_->request(verb, target, body);
      if (!res.keep_alive) connection_.reset();
      return res;
    } catch (const std::exception&) {
      connection_.reset();
      return std::nullopt;
    }
  }

private:
  std::uint16_t port_;
  std::optional<annals::test::HttpConnection> connection_;
};

// ---- commands, and what the driver was told about them -----------------------------------------

struct Command {
  std::string key;  // idempotency key, also the command id: the events' causation id
  std::string account;
  std::string kind;  // open, deposit, withdraw
  std::int64_t amount = 0;

  std::string envelope() const {
    json::object data;
    if (kind == "open")
      data["owner"] = "crash-rounds";
    else
      data["amount"] = amount;
    json::object env{{"aggregate", "account"}, {"id", account}, {"command", kind}, {"data", std::move(data)},
                     {"idempotency_key", key}, {"command_id", key}};
    return json::serialize(env);
  }
};

struct AckedEvent {
  std::string type;
  std::int64_t version = 0, position = 0, amount = 0;
};

struct Ledger {
  std::mutex mtx;
  std::map<std::string, Command> sent;                      // every command ever sent, by key
  std::map<std::string, std::vector<AckedEvent>> acked;     // key -> its events as acknowledged
  std::map<std::string, std::string> refused;               // key -> error code (a definite "not done")
  std::vector<std::string> unknown;                         // keys whose outcome is not known yet
  std::map<std::string, std::int64_t> expected_balance;     // from the acknowledged results
  std::int64_t acked_deposits = 0, deposited = 0, acked_withdrawals = 0, withdrawn = 0;
  long anomalies = 0;  // answers that cannot be right (e.g. a first send answered as a replay)
  std::vector<std::string> anomaly_texts;
};

enum class Outcome { acked, refused, unknown };

// Sends the command once and records what the answer says.
Outcome execute(Client& client, Ledger& ledger, const Command& cmd, bool retry, bool& replayed) {
  replayed = false;
  {
    std::lock_guard<std::mutex> lock(ledger.mtx);
    ledger.sent.emplace(cmd.key, cmd);
  }
  auto res = client.send(http::verb::post, "/commands", cmd.envelope());
  if (!res) return Outcome::unknown;
  json::value v;
  try {
    v = json::parse(res->body);
  } catch (const std::exception&) {
    return Outcome::unknown;
  }
  const auto* obj = v.if_object();
  const auto* status = obj ? obj->if_contains("status") : nullptr;
  std::lock_guard<std::mutex> lock(ledger.mtx);
  // 201: the command created the stream (an open), 200 otherwise.
  if ((res->status == 200 || res->status == 201) && status && status->is_string()
      && status->as_string() == "accepted") {
    replayed = obj->at("replayed").as_bool();
    if (replayed && !retry) {
      ++ledger.anomalies;
      ledger.anomaly_texts.push_back("the first send of " + cmd.key + " was answered as a replay: " + res->body);
    }
    std::vector<AckedEvent> events;
    for (const auto& e : obj->at("events").as_array()) {
      const auto& eo = e.as_object();
      AckedEvent ae;
      ae.type = std::string(eo.at("type").as_string());
      ae.version = eo.at("version").as_int64();
      ae.position = eo.at("position").as_int64();
      if (const auto* a = eo.at("data").as_object().if_contains("amount")) ae.amount = a->as_int64();
      events.push_back(ae);
    }
    for (const auto& e : events) {
      if (e.type == "deposited") {
        ledger.expected_balance[cmd.account] += e.amount;
        ++ledger.acked_deposits;
        ledger.deposited += e.amount;
      } else if (e.type == "withdrawn") {
        ledger.expected_balance[cmd.account] -= e.amount;
        ++ledger.acked_withdrawals;
        ledger.withdrawn += e.amount;
      }
    }
    if (!ledger.acked.emplace(cmd.key, std::move(events)).second) {
      ++ledger.anomalies;
      ledger.anomaly_texts.push_back("acknowledged twice: " + cmd.key);
    }
    return Outcome::acked;
  }
  // 4xx (but 408, 429): the command was refused and appended nothing.
  if (res->status >= 400 && res->status < 500 && res->status != 408 && res->status != 429) {
    const auto* code = obj ? obj->if_contains("code") : nullptr;  // a problem (RFC 9457) with annals' code
    ledger.refused[cmd.key] = code && code->is_string() ? std::string(code->as_string()) : std::to_string(res->status);
    return Outcome::refused;
  }
  return Outcome::unknown;  // 5xx (store failure, timeout 504, shutting down): it may have committed
}

// ---- the checks after a round ------------------------------------------------------------------

struct Verdict {
  long lost = 0, duplicated = 0, phantom = 0, gaps = 0, balance_mismatches = 0, projection_mismatches = 0;
  std::int64_t head = 0;
  std::vector<std::string> problems;
  bool ok() const {
    return lost + duplicated + phantom + gaps + balance_mismatches + projection_mismatches == 0 && problems.empty();
  }
  void problem(std::string p) {
    if (problems.size() < 20) problems.push_back(std::move(p));
  }
};

std::optional<json::value> query(Client& client, const std::string& target) {
  auto res = client.send(http::verb::get, target);
  if (!res || res->status != 200) return std::nullopt;
  try {
    return json::parse(res->body);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

Verdict check(const Options& o, const std::string& store_path, Client& client, Ledger& ledger, const std::string& dir) {
  Verdict v;
  annals::SqliteStoreOptions so;
  so.path = store_path;
  so.read_only = true;
  std::vector<annals::Event> events;
  {
    auto store = annals::open_sqlite_store(so);
    events = store->read_all(1, 100000000);
    v.head = store->head_position();
  }
  std::lock_guard<std::mutex> lock(ledger.mtx);
  std::map<std::string, std::vector<const annals::Event*>> by_key;
  std::map<std::string, std::int64_t> version, folded;
  for (const auto& e : events) {
    by_key[e.metadata.causation_id].push_back(&e);
    if (e.version != ++version[e.stream.id]) {
      ++v.gaps;
      v.problem(e.stream.to_string() + " jumps to version " + std::to_string(e.version) + " at position "
                + std::to_string(e.position));
      version[e.stream.id] = e.version;
    }
    if (e.type == "deposited") folded[e.stream.id] += e.data.at("amount").as_int64();
    if (e.type == "withdrawn") folded[e.stream.id] -= e.data.at("amount").as_int64();
  }
  // Nothing that no acknowledged command caused, and nothing twice.
  for (const auto& [key, stored] : by_key) {
    auto it = ledger.acked.find(key);
    if (it == ledger.acked.end()) {
      v.phantom += static_cast<long>(stored.size());
      v.problem(std::to_string(stored.size()) + " stored event(s) caused by '" + key + "', which "
                + (ledger.refused.count(key) ? "was refused (" + ledger.refused[key] + ")" : std::string("no acknowledged command has")));
    } else if (stored.size() > it->second.size()) {
      v.duplicated += static_cast<long>(stored.size() - it->second.size());
      v.problem("command " + key + " has " + std::to_string(stored.size()) + " stored events, acknowledged with "
                + std::to_string(it->second.size()));
    }
  }
  // Every acknowledged event, where it was acknowledged.
  for (const auto& [key, acked] : ledger.acked) {
    const auto& cmd = ledger.sent.at(key);
    const auto found = by_key.find(key);
    for (const auto& a : acked) {
      bool present = false;
      if (found != by_key.end())
        for (const auto* e : found->second)
          present = present || (e->position == a.position && e->version == a.version && e->type == a.type
                                && e->stream.id == cmd.account);
      if (!present) {
        ++v.lost;
        v.problem("acknowledged " + key + " (" + a.type + " " + cmd.account + " v" + std::to_string(a.version) + " at "
                  + std::to_string(a.position) + ") is not in the store");
      }
    }
  }
  // No doubled effect: the stored events, the live read model and the daily totals add up to what was acknowledged.
  const std::string head = std::to_string(v.head);
  for (const auto& [account, expected] : ledger.expected_balance) {
    if (folded[account] != expected) {
      ++v.balance_mismatches;
      v.problem("the stored events of " + account + " add up to " + std::to_string(folded[account])
                + ", the acknowledged ones to " + std::to_string(expected));
    }
    auto b = query(client, "/queries/balances/balance?id=" + account + "&min_position=" + head + "&timeout_ms=20000");
    const std::int64_t live = b ? b->at("result").at("balance").as_int64() : INT64_MIN;
    if (live != expected) {
      ++v.balance_mismatches;
      v.problem("the balances read model says " + account + " has "
                + (b ? std::to_string(live) : std::string("(no answer)")) + ", the acknowledged commands "
                + std::to_string(expected));
    }
  }
  if (auto days = query(client, "/queries/daily_totals/days?min_position=" + head + "&timeout_ms=20000")) {
    std::int64_t deposits = 0, deposited = 0, withdrawals = 0, withdrawn = 0;
    const json::value& result = days->at("result");
    auto add = [&](const json::value& d) {
      deposits += d.at("deposits").as_int64();
      deposited += d.at("deposited").as_int64();
      withdrawals += d.at("withdrawals").as_int64();
      withdrawn += d.at("withdrawn").as_int64();
    };
    if (result.is_object())
      for (const auto& kv : result.as_object()) add(kv.value());
    else
      for (const auto& d : result.as_array()) add(d);
    if (deposits != ledger.acked_deposits || deposited != ledger.deposited || withdrawals != ledger.acked_withdrawals
        || withdrawn != ledger.withdrawn) {
      ++v.balance_mismatches;
      v.problem("daily_totals count " + std::to_string(deposits) + " deposits of " + std::to_string(deposited) + " and "
                + std::to_string(withdrawals) + " withdrawals of " + std::to_string(withdrawn) + "; acknowledged: "
                + std::to_string(ledger.acked_deposits) + " of " + std::to_string(ledger.deposited) + ", "
                + std::to_string(ledger.acked_withdrawals) + " of " + std::to_string(ledger.withdrawn));
    }
  } else {
    ++v.projection_mismatches;
    v.problem("daily_totals/days did not answer");
  }
  // The read models equal a fresh rebuild from the store (a separate process, beside the running service).
  for (const std::string projection : {"balances", "daily_totals"}) {
    const std::string log = dir + "/reconcile.log";
    const int rc = run_program({o.cli, "reconcile", projection, "--store", store_path, "--domain", "bank", "--json"}, log);
    if (rc != 0) {
      ++v.projection_mismatches;
      v.problem("annals reconcile " + projection + " exited " + std::to_string(rc) + ": " + read_file(log));
    }
  }
  return v;
}

// ---- one round ---------------------------------------------------------------------------------

struct Totals {
  long acked = 0, retried = 0, retried_committed = 0, refused = 0, lost = 0, duplicated = 0, phantom = 0;
};

// Retries every unknown outcome (same key) until each is learned; false if the service stops answering.
bool resolve_unknowns(Client& client, Ledger& ledger, long& retried, long& had_committed) {
  std::vector<std::string> keys;
  {
    std::lock_guard<std::mutex> lock(ledger.mtx);
    keys.swap(ledger.unknown);
  }
  for (const auto& key : keys) {
    Command cmd;
    {
      std::lock_guard<std::mutex> lock(ledger.mtx);
      cmd = ledger.sent.at(key);
    }
    ++retried;
    for (int attempt = 0;; ++attempt) {
      bool replayed = false;
      const Outcome out = execute(client, ledger, cmd, true, replayed);
      if (out == Outcome::acked && replayed) ++had_committed;
      if (out != Outcome::unknown) break;
      if (attempt == 200) return false;
      std::this_thread::sleep_for(50ms);  // backing off before the next retry of the same key
    }
  }
  return true;
}

} // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"crash rounds against the bank HTTP service (docs/reliability.md)", "annals_crash_rounds"};
  app.add_option("--rounds", o.rounds, "rounds (kill, restart, retry, check)")->capture_default_str()->check(CLI::Range(1, 100000));
  auto* seed = app.add_option("--seed", o.seed, "seed of the kill moments and commands (default: random, printed)");
  app.add_option("--service", o.service, "the bank_service executable")->capture_default_str();
  app.add_option("--cli", o.cli, "the annals executable (for `annals reconcile`)")->capture_default_str();
  app.add_option("--dir", o.dir, "directory for the store and logs (default: a new temporary one, removed if all is well)");
  app.add_option("--callers", o.callers, "caller threads")->capture_default_str()->check(CLI::Range(1, 256));
  app.add_option("--accounts", o.accounts, "accounts the commands go to")->capture_default_str()->check(CLI::Range(1, 10000));
  app.add_option("--min-kill-ms", o.min_kill_ms, "earliest kill, ms after the service is ready")->capture_default_str();
  app.add_option("--max-kill-ms", o.max_kill_ms, "latest kill")->capture_default_str();
  app.add_option("--durability", o.durability, "the service's --durability (normal, full)")
    ->capture_default_str()->check(CLI::IsMember({"normal", "full"}));
  app.add_option("--snapshot-every", o.snapshot_every, "the service's --snapshot-every")->capture_default_str();
  app.add_option("--projection-snapshot-every", o.projection_snapshot_every, "the service's --projection-snapshot-every")
    ->capture_default_str();
  app.add_flag("--keep", o.keep, "keep the directory even if all is well");
  try {
    app.parse(argc, argv);
    if (o.min_kill_ms < 0 || o.max_kill_ms < o.min_kill_ms) throw CLI::ValidationError("--max-kill-ms", "must be >= --min-kill-ms >= 0");
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!seed->count()) o.seed = std::random_device{}() ^ (static_cast<std::uint64_t>(std::random_device{}()) << 32);
  for (const auto& exe : {o.service, o.cli})
    if (::access(exe.c_str(), X_OK) != 0) {
      std::cerr << "annals_crash_rounds: cannot run '" << exe << "' (build it, or pass --service / --cli)\n";
      return 2;
    }
  bool own_dir = false;
  if (o.dir.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "annals-crash-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) {
      std::perror("mkdtemp");
      return 3;
    }
    o.dir = tmpl;
    own_dir = true;
  }
  std::filesystem::create_directories(o.dir);
  const std::string store = o.dir + "/bank.db", log = o.dir + "/service.log";
  std::cout << "crash rounds: seed " << o.seed << " (repeat with --seed " << o.seed << "), " << o.rounds << " rounds, "
            << o.callers << " callers, " << o.accounts << " accounts, durability " << o.durability
            << ", account snapshots every " << o.snapshot_every << ", read-model snapshots every "
            << o.projection_snapshot_every << ", in " << o.dir << std::endl;
  std::mt19937_64 rng(o.seed);
  Ledger ledger;
  Totals total;
  ServiceProcess service(o, store, log);
  auto start = [&]() -> std::uint16_t {
    const std::uint16_t port = service.start();
    if (!port) std::cerr << "annals_crash_rounds: the service did not start; its log " << log << ":\n" << read_file(log);
    return port;
  };
  std::uint16_t port = start();
  if (!port) return 3;
  {  // the accounts, opened like every other command
    Client client(port);
    for (int a = 0; a < o.accounts; ++a) {
      Command open{"open-" + std::to_string(a), "acc-" + std::to_string(a), "open", 0};
      bool replayed = false;
      if (execute(client, ledger, open, false, replayed) != Outcome::acked) {
        std::cerr << "annals_crash_rounds: could not open " << open.account << "\n";
        return 3;
      }
      ledger.expected_balance[open.account] = 0;
    }
  }
  bool all_ok = true;
  for (int round = 1; round <= o.rounds; ++round) {
    const int kill_after = std::uniform_int_distribution<int>(o.min_kill_ms, o.max_kill_ms)(rng);
    std::vector<std::uint64_t> caller_seeds;
    for (int c = 0; c < o.callers; ++c) caller_seeds.push_back(rng());
    std::atomic<bool> stop{false};
    std::atomic<long> acked{0}, refused{0};
    std::vector<std::thread> callers;
    for (int c = 0; c < o.callers; ++c)
      callers.emplace_back([&, c] {
        std::mt19937_64 r(caller_seeds[static_cast<std::size_t>(c)]);
        Client client(port);
        for (long n = 0; !stop; ++n) {
          Command cmd;
          cmd.key = "k" + std::to_string(round) + "-" + std::to_string(c) + "-" + std::to_string(n);
          cmd.account = "acc-" + std::to_string(std::uniform_int_distribution<int>(0, o.accounts - 1)(r));
          const bool withdraw = std::uniform_int_distribution<int>(0, 6)(r) == 0;
          cmd.kind = withdraw ? "withdraw" : "deposit";
          cmd.amount = std::uniform_int_distribution<std::int64_t>(1, withdraw ? 150 : 100)(r);
          bool replayed = false;
          const Outcome out = execute(client, ledger, cmd, false, replayed);
          if (out == Outcome::acked) ++acked;
          if (out == Outcome::refused) ++refused;
          if (out == Outcome::unknown) {
            std::lock_guard<std::mutex> lock(ledger.mtx);
            ledger.unknown.push_back(cmd.key);
            break;  // the service is gone (or failing): this caller's round is over
          }
        }
      });
    std::this_thread::sleep_for(std::chrono::milliseconds(kill_after));  // the seeded kill moment
    service.kill(SIGKILL);
    stop = true;
    for (auto& t : callers) t.join();
    long unknown_now = 0;
    {
      std::lock_guard<std::mutex> lock(ledger.mtx);
      unknown_now = static_cast<long>(ledger.unknown.size());
    }
    port = start();
    if (!port) return 3;
    Client client(port);
    long retried = 0, had_committed = 0;
    if (!resolve_unknowns(client, ledger, retried, had_committed)) {
      std::cerr << "annals_crash_rounds: the restarted service did not answer the retries; log " << log << "\n";
      return 3;
    }
    Verdict v = check(o, store, client, ledger, o.dir);
    total.retried += retried;
    total.retried_committed += had_committed;
    total.lost += v.lost;
    total.duplicated += v.duplicated;
    total.phantom += v.phantom;
    long anomalies = 0;
    {
      std::lock_guard<std::mutex> lock(ledger.mtx);
      anomalies = ledger.anomalies;
      total.acked = static_cast<long>(ledger.acked.size());
      total.refused = static_cast<long>(ledger.refused.size());
      for (const auto& t : ledger.anomaly_texts) v.problem(t);
      ledger.anomaly_texts.clear();
    }
    const bool ok = v.ok() && anomalies == 0;
    all_ok = all_ok && ok;
    std::cout << "round " << round << "/" << o.rounds << ": SIGKILL after " << kill_after << " ms; " << acked
              << " acknowledged, " << refused << " refused; " << unknown_now << " unknown outcome(s) retried with their key ("
              << had_committed << " had committed, " << (retried - had_committed) << " had not); head " << v.head
              << "; lost " << v.lost << ", duplicated " << v.duplicated << ", unexplained " << v.phantom
              << ", version gaps " << v.gaps << ", balance mismatches " << v.balance_mismatches
              << ", read models differing from a rebuild " << v.projection_mismatches << (ok ? ": ok" : ": FAILED")
              << std::endl;
    for (const auto& p : v.problems) std::cout << "  " << p << "\n";
  }
  const int rc = service.kill(SIGTERM);
  if (rc != 0) {
    std::cout << "the service exited " << rc << " on SIGTERM (expected 0)\n";
    all_ok = false;
  }
  std::cout << "crash rounds: " << o.rounds << " rounds, " << total.acked << " acknowledged commands, " << total.refused
            << " refused, " << total.retried << " unknown outcomes retried (" << total.retried_committed
            << " had committed), lost " << total.lost << ", duplicated " << total.duplicated << ", unexplained "
            << total.phantom << ": " << (all_ok ? "OK" : "FAILED") << " (seed " << o.seed << ")" << std::endl;
  if (all_ok && own_dir && !o.keep) {
    std::error_code ec;
    std::filesystem::remove_all(o.dir, ec);
  } else if (!all_ok) {
    std::cout << "store and service log kept in " << o.dir << std::endl;
  }
  return all_ok ? 0 : 1;
}
