// G8 with real processes: three `annals node` processes with mutual TLS on
// the tests' PostgreSQL server, load sent to all of them, one killed with
// SIGKILL, one stopped with SIGSTOP past its lease while it is inside an
// append, the killed one restarted; then SQL checks on the shared log and
// every node's read model compared with what was acknowledged. And a node
// whose certificate is from another CA is refused by the others.

#include "node_process.hpp"
#include "postgres_server.hpp"

#include <annals/cluster/rendezvous.hpp>
#include <annals/persistence/postgres_event_store.hpp>
#include <annals/runtime.hpp>
#include <bank/projections.hpp>
#include <annals/persistence/shard_lease.hpp>

#include <catch2/catch.hpp>

#include <libpq-fe.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

using namespace annals;
using namespace annals::test;
using namespace std::chrono_literals;
namespace http = boost::beast::http;

namespace {

constexpr int shard_count = 12;
constexpr int lease_ttl_ms = 1500;

int run_shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// Certificates for n1..n3 from the cluster's CA, and "rogue" from another.
void make_certs(const TempDir& dir) {
  if (run_shell("command -v openssl >/dev/null 2>&1") != 0)
    FAIL("the openssl command is missing: install openssl (apt-get install openssl)");
  const std::string cmd = std::string("sh ") + ANNALS_CERTS_SCRIPT + " --foreign " + dir.path().string()
                          + " n1 n2 n3 > " + dir.file("certs.log") + " 2>&1";
  if (run_shell(cmd) != 0) FAIL("scripts/make-cluster-certs.sh failed: " + cmd);
}

std::string node_config(const TempDir& dir, const std::string& url, const std::string& name, const std::string& cert,
                        const std::string& ca) {
  const std::string path = dir.file(name + ".json");
  // application_name tells the node's sessions apart in pg_stat_activity.
  std::ofstream(path) << R"({"node": ")" << name << R"(", "cluster": "g8", "store": ")" << url
                      << "?application_name=annals-" << name << R"(", "listen": "127.0.0.1:0", "http": "127.0.0.1:0", "domains": ["bank"], "shards": )"
                      << shard_count << R"(, "lease_ttl_ms": )" << lease_ttl_ms
                      << R"(, "heartbeat_ms": 200, "connection_timeout_ms": 3000, "log_level": "info",)"
                      << R"( "tls": {"certificate": ")" << cert << R"(.pem", "key": ")" << cert << R"(.key", "ca": ")"
                      << ca << R"(.pem"}})";
  return path;
}

std::string deposit(const std::string& account, const std::string& key) {
  return R"({"aggregate": "account", "id": ")" + account + R"(", "command": "deposit", "data": {"amount": 1},)"
         + R"( "idempotency_key": ")" + key + R"("})";
}

std::string open(const std::string& account) {
  return R"({"aggregate": "account", "id": ")" + account + R"(", "command": "open", "data": {"owner": "Ada"},)"
         + R"( "idempotency_key": "open-)" + account + R"("})";
}

/// Whether the live nodes hold every shard between them, each some.
bool settled(const std::vector<NodeProcess*>& live) {
  double sum = 0;
  for (auto* n : live) {
    const auto owned = n->metric("annals_cluster_shards_owned");
    if (!owned || *owned < 1) return false;
    sum += *owned;
  }
  return sum == shard_count;
}

/// Deposits of 1 to random accounts, each retried with its key until one
/// node accepts it, sent to whichever nodes `targets` names.
class Load {
public:
  Load(std::vector<NodeProcess*> nodes, std::vector<std::string> accounts)
    : nodes_(std::move(nodes)), accounts_(std::move(accounts)), thread_([this] { run(); }) {}
  ~Load() { stop(); }

  void send_to(std::set<std::string> names) {
    std::lock_guard<std::mutex> lock(mtx_);
    targets_ = std::move(names);
  }
  /// Holds the load between two deposits (true) or lets it go on.
  void hold(bool h) {
    held_ = h;
    if (h) wait_until([&] { return idle_.load(); }, 60s);
  }
  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }
  /// account -> deposits acknowledged (each once, whatever the retries).
  std::map<std::string, int> acknowledged() const {
    std::lock_guard<std::mutex> lock(mtx_);
    return acknowledged_;
  }
  std::vector<std::int64_t> positions() const {
    std::lock_guard<std::mutex> lock(mtx_);
    return positions_;
  }
  int node_unavailable() const { return unavailable_; }
  int gave_up() const { return gave_up_; }

private:
  void run() {
    std::mt19937 rng(7);
    std::map<std::string, std::unique_ptr<HttpConnection>> conns;
    for (int n = 0; !stopping_; ++n) {
      bool no_targets;
      {
        std::lock_guard<std::mutex> lock(mtx_);
        no_targets = targets_.empty();
      }
      if (held_ || no_targets) {
        idle_ = true;
        std::this_thread::sleep_for(5ms);
        continue;
      }
      idle_ = false;
      const std::string account = accounts_[rng() % accounts_.size()];
      const std::string key = "dep-" + std::to_string(n);
      bool done = false;
      for (int attempt = 0; attempt < 600 && !done; ++attempt) {
        std::vector<NodeProcess*> to;
        {
          std::lock_guard<std::mutex> lock(mtx_);
          for (auto* node : nodes_)
            if (targets_.count(node->name())) to.push_back(node);
        }
        if (to.empty()) break;
        NodeProcess* node = to[rng() % to.size()];
        try {
          auto& c = conns[node->name()];
          if (!c) c = std::make_unique<HttpConnection>(node->port(), 3s);
          const auto r = c->request(http::verb::post, "/commands", deposit(account, key));
          if (r.status == 200 || r.status == 201) {
            std::lock_guard<std::mutex> lock(mtx_);
            ++acknowledged_[account];
            positions_.push_back(r.integer("position"));
            done = true;
          } else if (r.code() == "node_unavailable") {
            ++unavailable_;
          }
        } catch (const std::exception&) {
          conns.erase(node->name());  // killed, paused or restarted: the outcome is unknown, retry with the key
        }
        if (!done) std::this_thread::sleep_for(20ms);
      }
      if (!done) ++gave_up_;
    }
    idle_ = true;
  }

  std::vector<NodeProcess*> nodes_;
  std::vector<std::string> accounts_;
  mutable std::mutex mtx_;
  std::set<std::string> targets_;
  std::map<std::string, int> acknowledged_;
  std::vector<std::int64_t> positions_;
  std::atomic<int> unavailable_{0}, gave_up_{0};
  std::atomic<bool> stopping_{false}, held_{false}, idle_{false};
  std::thread thread_;
};

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

} // namespace

SCENARIO("G8 three TLS node processes under load: a killed node's shards are taken over within the lease ttl "
         "plus a round, a node paused past its lease inside an append has it refused as fenced, the killed node "
         "rejoins, and the shared log and every node's read model hold each acknowledged command exactly once",
         "[cluster][G8][postgres][processes]") {
  auto& server = PostgresServer::shared();
  const std::string url = server.create_database();
  const std::string db = url.substr(url.rfind('/') + 1);
  TempDir dir;
  make_certs(dir);
  NodeProcess n1(dir, "n1", node_config(dir, url, "n1", "n1", "ca")), n2(dir, "n2", node_config(dir, url, "n2", "n2", "ca")),
    n3(dir, "n3", node_config(dir, url, "n3", "n3", "ca"));
  for (auto* n : {&n1, &n2, &n3}) {
    INFO(n->err());
    REQUIRE(n->start());
  }
  REQUIRE(wait_until([&] { return settled({&n1, &n2, &n3}); }, 30s));
  CHECK(n1.err().find("mutual TLS") != std::string::npos);

  // Accounts opened through every node in turn.
  std::vector<std::string> accounts;
  for (int i = 0; i < 24; ++i) accounts.push_back("acc-" + std::to_string(i));
  {
    std::vector<std::unique_ptr<HttpConnection>> c;
    for (auto* n : {&n1, &n2, &n3}) c.push_back(std::make_unique<HttpConnection>(n->port()));
    for (std::size_t i = 0; i < accounts.size(); ++i) {
      // A client retries node_unavailable with the same key (the cluster may
      // still be moving leases a few per round).
      HttpResponse r;
      wait_until([&] {
        r = c[i % 3]->request(http::verb::post, "/commands", open(accounts[i]));
        return r.status != 503;
      }, 20s, 50ms);
      INFO(accounts[i] << ": " << r.body);
      REQUIRE((r.status == 201 || r.status == 200));
    }
  }
  CHECK(n1.metric("annals_cluster_forwarded_commands_total").value_or(0) > 0);

  Load load({&n1, &n2, &n3}, accounts);
  load.send_to({"n1", "n2", "n3"});
  REQUIRE(wait_until([&] { return load.acknowledged().size() >= 5; }, 30s));

  // n3 dies: its shards are taken over by n1 and n2.
  load.send_to({"n1", "n2"});
  n3.kill(SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  REQUIRE(wait_until([&] { return settled({&n1, &n2}); }, 30s, 20ms));
  const double takeover_ms = ms_since(killed);
  INFO("takeover after kill -9: " << takeover_ms << " ms");
  // The member timeout (ttl), the leases' expiry (ttl after the last
  // renewal), a round (ttl/3), and the metric's own poll: bounded, not tuned.
  CHECK(takeover_ms < 2 * lease_ttl_ms + lease_ttl_ms / 3 + 1500);
  const auto before_pause = load.acknowledged();

  // n2 is stopped inside an append: the test holds the log's counter row, so
  // n2's journal waits for it in its transaction, before its fence check.
  load.hold(true);
  load.send_to({"n1"});
  // The leases as rendezvous hashing spreads them over n1 and n2, so n2's
  // own view agrees with the table: the commands below run on n2 itself.
  auto spread = [&] {
    for (const std::string node : {"n1", "n2"})
      for (int shard : cluster::rendezvous_shards(node, {"n1", "n2"}, shard_count))
        if (server.exec(db, "SELECT owner FROM shard_leases WHERE shard = " + std::to_string(shard)
                              + " AND expires_at > now()") != node)
          return false;
    return true;
  };
  const auto n2_share = static_cast<double>(cluster::rendezvous_shards("n2", {"n1", "n2"}, shard_count).size());
  REQUIRE(wait_until([&] { return spread() && n2.metric("annals_cluster_shards_owned") == n2_share; }, 30s, 50ms));
  std::vector<std::string> on_n2;
  for (const auto& a : accounts) {
    const int shard = shard_of(StreamId{"account", a}, shard_count);
    if (server.exec(db, "SELECT owner FROM shard_leases WHERE shard = " + std::to_string(shard)) == "n2") on_n2.push_back(a);
    if (on_n2.size() == 3) break;
  }
  REQUIRE(on_n2.size() == 3);
  // What n2 itself committed: accepted deposits that were not replays of a key.
  auto n2_committed = [&]() -> std::optional<double> {
    const auto accepted =
      n2.metric(R"(annals_commands_total{path="command",aggregate="account",command="deposit",outcome="accepted"})");
    const auto replays = n2.metric(R"(annals_idempotent_replays_total{aggregate="account",command="deposit"})");
    if (!accepted || !replays) return std::nullopt;
    return *accepted - *replays;
  };
  const auto n2_committed_before = n2_committed();
  REQUIRE(n2_committed_before);
  PGconn* holder = PQconnectdb(url.c_str());
  REQUIRE(PQstatus(holder) == CONNECTION_OK);
  PQclear(PQexec(holder, "BEGIN"));
  PGresult* held = PQexec(holder, "SELECT position FROM log_head FOR UPDATE");
  REQUIRE(PQresultStatus(held) == PGRES_TUPLES_OK);
  PQclear(held);
  std::vector<std::string> fenced_results(3);
  std::vector<std::thread> senders;
  for (int i = 0; i < 3; ++i)
    senders.emplace_back([&, i] {
      // Sent to n2; an answer that is not a success (n2 stuck behind its own
      // paused session until PostgreSQL ends it: a timeout) is retried with
      // the same key, as a client would, on n1 once n2 has answered once.
      const auto body = deposit(on_n2[static_cast<std::size_t>(i)], "fenced-" + std::to_string(i));
      auto& out = fenced_results[static_cast<std::size_t>(i)];
      NodeProcess* to = &n2;
      wait_until([&] {
        try {
          HttpConnection c(to->port(), 30s);
          out = c.request(http::verb::post, "/commands", body).body;
        } catch (const std::exception& e) {
          out = std::string("no answer: ") + e.what();
        }
        to = &n1;
        return out.find("\"status\":\"accepted\"") != std::string::npos;
      }, 90s, 100ms);
    });
  const std::string waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = '" + db
                              + "' AND application_name = 'annals-n2' AND wait_event_type = 'Lock'"
                                " AND query LIKE '%log_head%'";
  REQUIRE(wait_until([&] { return server.exec("postgres", waiting) != "0"; }, 20s));
  n2.kill(SIGSTOP);
  // Only once all of it stands still may the counter row go to its session.
  REQUIRE(wait_until([&] { return n2.stopped(); }, 10s, 1ms));
  PQclear(PQexec(holder, "COMMIT"));
  PQfinish(holder);
  const auto paused = std::chrono::steady_clock::now();
  // n1 takes over n2's shards once n2's leases expire.
  REQUIRE(wait_until([&] { return n1.metric("annals_cluster_shards_owned") == double(shard_count); }, 30s, 20ms));
  INFO("n1 held every shard " << ms_since(paused) << " ms after n2 was paused");
  n2.kill(SIGCONT);
  for (auto& t : senders) t.join();
  THEN("n2's paused appends were refused as fenced and counted; the commands succeeded on the new owner") {
    for (const auto& r : fenced_results) {
      INFO(r);
      CHECK(r.find("\"status\":\"accepted\"") != std::string::npos);
    }
    CHECK(wait_until([&] { return n2.metric("annals_cluster_fenced_appends_total").value_or(0) >= 1; }, 10s));
    // n2 committed none of them: the append it had begun was refused by the
    // store's fence check after it woke up, and the rest it no longer tried.
    CHECK(n2_committed() == n2_committed_before);
    CHECK(wait_until([&] { return n2.metric("annals_cluster_lease_losses_total").value_or(0) >= 1; }, 10s));
    CHECK(wait_until([&] { return n2.all_err().find("cluster.leases_lost") != std::string::npos; }, 10s));
  }

  // n3 comes back: it rejoins and the shards spread over all three again.
  load.hold(false);
  load.send_to({"n1", "n2"});
  REQUIRE(n3.start());
  REQUIRE(wait_until([&] { return settled({&n1, &n2, &n3}); }, 30s));
  load.send_to({"n1", "n2", "n3"});
  const auto later = load.acknowledged();
  REQUIRE(wait_until([&] {
    int before = 0, now = 0;
    for (auto& kv : later) before += kv.second;
    for (auto& kv : load.acknowledged()) now += kv.second;
    return now >= before + 10;
  }, 30s));
  load.stop();
  CHECK(load.gave_up() == 0);
  INFO("node_unavailable answers during the run: " << load.node_unavailable());

  THEN("the log is dense, versions run 1..n per stream, and every acknowledged command's events are there once") {
    CHECK(server.exec(db, "SELECT count(*) = max(position) AND min(position) = 1 FROM events") == "t");
    CHECK(server.exec(db, "SELECT count(*) FROM (SELECT stream_id FROM events GROUP BY stream_type, stream_id"
                          " HAVING count(*) <> max(version) OR min(version) <> 1) s") == "0");
    CHECK(server.exec(db, "SELECT count(*) FROM (SELECT 1 FROM events GROUP BY stream_type, stream_id, version"
                          " HAVING count(*) > 1) d") == "0");
    auto acknowledged = load.acknowledged();
    for (int i = 0; i < 3; ++i) ++acknowledged[on_n2[static_cast<std::size_t>(i)]];
    for (const auto& a : accounts) {
      INFO(a);
      CHECK(server.exec(db, "SELECT count(*) FROM events WHERE stream_id = '" + a + "' AND type = 'deposited'")
            == std::to_string(acknowledged[a]));
    }
    for (auto p : load.positions())
      CHECK(server.exec(db, "SELECT count(*) FROM events WHERE position = " + std::to_string(p)) == "1");
    AND_THEN("every node's balances read model answers what was acknowledged, read-your-writes at the head, "
             "and equals a fresh rebuild from the shared log") {
      const std::string head = server.exec(db, "SELECT max(position) FROM events");
      // The fresh rebuild: a runtime of its own on the shared database,
      // replaying the whole log into a new balances read model.
      PostgresStoreOptions store;
      store.url = url;
      RuntimeOptions fresh_options;
      fresh_options.store = postgres_store(store);
      Runtime fresh(fresh_options);
      fresh.register_projection(bank::balances_projection());
      auto rebuilt = [&](const std::string& query, json::object args) {
        auto v = fresh.query("balances", query, std::move(args), std::stoll(head), 30s);
        REQUIRE(v);
        return *v;
      };
      for (auto* n : {&n1, &n2, &n3}) {
        HttpConnection c(n->port());
        for (const auto& a : accounts) {
          const auto r = c.request(http::verb::get, "/queries/balances/balance?id=" + a + "&min_position=" + head);
          INFO(n->name() << " " << a << ": " << r.body);
          REQUIRE(r.status == 200);
          CHECK(r.json().at("result").at("balance").as_int64() == acknowledged[a]);
          CHECK(r.json().at("result") == rebuilt("balance", {{"id", a}}));
        }
        const auto total = c.request(http::verb::get, "/queries/balances/total?min_position=" + head);
        INFO(n->name() << " total: " << total.body);
        REQUIRE(total.status == 200);
        CHECK(total.json().at("result") == rebuilt("total", {}));
      }
    }
  }
  for (auto* n : {&n1, &n2, &n3}) {
    n->kill(SIGTERM);
    // A failed exit shows the end of what the node printed (a sanitizer report, an error).
    const std::string err = n->exit_code() == 0 ? std::string() : n->all_err();
    INFO(n->name() << " exit " << n->exit_code() << ", the end of its stderr:\n"
                   << (err.size() > 6000 ? err.substr(err.size() - 6000) : err));
    CHECK(n->exit_code() == 0);
  }
  CHECK(server.exec(db, "SELECT count(*) FROM shard_leases WHERE owner IS NOT NULL AND expires_at > now()") == "0");
}

SCENARIO("G8 a node whose certificate is from another CA is refused by the cluster's nodes, and the refusal logged",
         "[cluster][G8][postgres][processes][tls]") {
  auto& server = PostgresServer::shared();
  const std::string url = server.create_database();
  const std::string db = url.substr(url.rfind('/') + 1);
  TempDir dir;
  make_certs(dir);
  NodeProcess n1(dir, "n1", node_config(dir, url, "n1", "n1", "ca"));
  NodeProcess rogue(dir, "n2", node_config(dir, url, "n2", "rogue", "foreign-ca"));
  REQUIRE(n1.start());
  REQUIRE(rogue.start());
  REQUIRE(wait_until([&] { return settled({&n1, &rogue}); }, 30s));
  // An account whose shard the rogue holds, sent to n1.
  std::string account;
  for (int i = 0; account.empty(); ++i) {
    const std::string a = "acc-" + std::to_string(i);
    if (server.exec(db, "SELECT owner FROM shard_leases WHERE shard = "
                          + std::to_string(shard_of(StreamId{"account", a}, shard_count))) == "n2")
      account = a;
  }
  HttpConnection c(n1.port());
  const auto r = c.request(http::verb::post, "/commands", open(account));
  THEN("n1 cannot forward to it: node_unavailable, nothing written, and n1's log says why") {
    INFO(r.body);
    CHECK(r.status == 503);
    CHECK(r.code() == "node_unavailable");
    CHECK(server.exec(db, "SELECT count(*) FROM events") == "0");
    CHECK(wait_until([&] { return n1.err().find("cluster.peer_refused") != std::string::npos
                                  || n1.err().find("TLS") != std::string::npos; }, 10s));
  }
}
