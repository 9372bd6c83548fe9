// The PostgreSQL store's own promises, beyond the shared contract: one dense
// global order in commit order with several writer processes, optimistic
// concurrency across processes, and clear refusals of databases, servers and
// users it cannot use.

#include <annals/persistence/postgres_event_store.hpp>
#include <annals/persistence/store_url.hpp>

#include "closed_port.hpp"
#include "postgres_server.hpp"
#include "wait_until.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <csignal>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace json = annals::json;
using annals::AppendRequest;
using annals::Event;
using annals::NewEvent;
using annals::PostgresStoreOptions;
using annals::StoreError;
using annals::StoreFailure;
using annals::StreamId;
using annals::test::closed_port;
using annals::test::PostgresServer;

namespace {

AppendRequest deposit(const StreamId& s, std::int64_t expected, int events = 1) {
  AppendRequest r;
  r.stream = s;
  r.expected_version = expected;
  for (int i = 0; i < events; ++i) r.events.push_back(NewEvent{"deposited", 1, json::object{{"amount", 1}}});
  r.metadata.correlation_id = "c";
  r.metadata.causation_id = "k";
  return r;
}

std::shared_ptr<annals::EventStoreProvider> store_at(const std::string& url, bool initialize = true) {
  PostgresStoreOptions o;
  o.url = url;
  o.initialize = initialize;
  o.connect_timeout = std::chrono::seconds(2);
  return annals::postgres_store(o);
}

// The database name at the end of a test server's URL.
std::string db_of(const std::string& url) { return url.substr(url.rfind('/') + 1); }


// The StoreError of opening a connection, or fails the test.
StoreError connect_error(const std::shared_ptr<annals::EventStoreProvider>& p) {
  try {
    p->connect();
  } catch (const StoreError& e) {
    return e;
  }
  FAIL("connect() succeeded");
  throw std::logic_error("unreachable");
}

// Forks a process that runs `body` on connections of its own and exits 0
// when it returns true. Forked before any thread runs in this program.
pid_t fork_process(const std::function<bool()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    bool ok = false;
    try {
      ok = body();
    } catch (...) {
    }
    ::_exit(ok ? 0 : 1);
  }
  return pid;
}

// Kills and reaps a forked process when the test leaves its scope, passed or failed.
struct KillOnExit {
  pid_t pid;
  ~KillOnExit() {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
};

int wait_for(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

} // namespace

SCENARIO("postgres: with several writer processes committing at once, positions are dense and in commit order",
         "[store][postgres][order]") {
  GIVEN("a PostgreSQL store and four writer processes, each appending batches to streams of its own") {
    const std::string url = PostgresServer::shared().create_database();
    auto provider = store_at(url);
    auto reader = provider->connect();  // creates the schema before the writers start
    constexpr int writers = 4, batches = 60, per_batch = 3;

    std::vector<pid_t> pids;
    for (int w = 0; w < writers; ++w)
      pids.push_back(fork_process([&, w] {
        auto store = store_at(url)->connect();
        std::map<std::string, std::int64_t> versions;
        for (int b = 0; b < batches; ++b) {
          std::vector<AppendRequest> batch;
          for (int i = 0; i < per_batch; ++i) {
            const std::string id = "w" + std::to_string(w) + "-" + std::to_string((b + i) % 5);
            batch.push_back(deposit({"account", id}, versions[id], 1 + (b + i) % 2));
            versions[id] += 1 + (b + i) % 2;
          }
          for (auto& outcome : store->append(batch))
            if (!outcome) return false;
          annals::AuditRecord line;
          line.outcome = "rejected";
          line.command = "w" + std::to_string(w) + "-" + std::to_string(b);
          store->append_audit({line});
        }
        return true;
      }));

    WHEN("a reader follows the log while they commit") {
      std::int64_t seen = 0;
      std::vector<Event> all;
      int running = writers;
      std::vector<int> codes;
      bool dense = true;
      std::string first_hole;
      std::vector<std::int64_t> audit_seen;  // ids as the reader found them, paging by id
      for (;;) {
        for (const auto& line : reader->audit_log(audit_seen.empty() ? 1 : audit_seen.back() + 1, 1000))
          audit_seen.push_back(line.id);
        auto got = reader->read_all(seen + 1, 1000);
        for (const auto& e : got) {
          if (e.position != seen + 1 && dense) {
            dense = false;
            first_hole = "after position " + std::to_string(seen) + " came " + std::to_string(e.position);
          }
          seen = e.position;
          all.push_back(e);
        }
        if (running == 0) break;
        for (auto it = pids.begin(); it != pids.end();) {
          int status = 0;
          if (::waitpid(*it, &status, WNOHANG) == *it) {
            codes.push_back(WIFEXITED(status) ? WEXITSTATUS(status) : -1);
            it = pids.erase(it);
            --running;
          } else {
            ++it;
          }
        }
      }
      for (const auto& e : reader->read_all(seen + 1, 100000)) {
        if (e.position != seen + 1) dense = false;
        seen = e.position;
        all.push_back(e);
      }

      for (const auto& line : reader->audit_log(audit_seen.empty() ? 1 : audit_seen.back() + 1, 100000))
        audit_seen.push_back(line.id);

      THEN("every writer succeeded, the reader never saw a hole, and the log is 1..n with each stream 1..k") {
        // The audit trail too: paging by id found every line (none committed below an id already seen).
        std::vector<std::int64_t> audit_all;
        for (const auto& line : reader->audit_log(1, 100000)) audit_all.push_back(line.id);
        CHECK(audit_all.size() == static_cast<std::size_t>(writers * batches));
        CHECK(audit_seen == audit_all);
        CHECK(codes == std::vector<int>(writers, 0));
        INFO(first_hole);
        CHECK(dense);
        const std::int64_t expected = writers * batches * per_batch * 3 / 2;  // 1 or 2 events per append
        CHECK(static_cast<std::int64_t>(all.size()) == expected);
        CHECK(reader->head_position() == expected);
        CHECK(reader->event_count() == expected);
        std::map<StreamId, std::int64_t> last;
        bool contiguous = true;
        for (std::size_t i = 0; i < all.size(); ++i) {
          if (all[i].position != static_cast<std::int64_t>(i) + 1) contiguous = false;
          if (all[i].version != ++last[all[i].stream]) contiguous = false;
        }
        CHECK(contiguous);
      }
    }
  }
}

SCENARIO("Processes that open one fresh PostgreSQL database at the same moment all get the store, created once",
         "[store][postgres][concurrency]") {
  // Nodes of a cluster start together on an empty database: one creates the
  // schema, the others wait for it or find it, none takes it for another
  // application's tables.
  for (int round = 0; round < 5; ++round) {
    const std::string url = PostgresServer::shared().create_database();
    int go[2];
    REQUIRE(::pipe(go) == 0);
    std::vector<pid_t> pids;
    for (int w = 0; w < 4; ++w)
      pids.push_back(fork_process([&] {
        ::close(go[1]);
        char c;
        (void)::read(go[0], &c, 1);  // all start when the pipe closes
        try {
          store_at(url)->connect();
          return true;
        } catch (const StoreError& e) {
          std::fprintf(stderr, "%s\n", e.what());
          return false;
        }
      }));
    ::close(go[0]);
    ::close(go[1]);
    for (pid_t p : pids) CHECK(wait_for(p) == 0);
    CHECK(store_at(url)->connect()->head_position() == 0);
  }
}

SCENARIO("G2 two processes appending to one stream at the same version: one commits, the other gets "
         "concurrency_conflict", "[store][postgres][concurrency]") {
  const std::string url = PostgresServer::shared().create_database();
  auto store = store_at(url)->connect();
  const StreamId acc{"account", "shared"};
  int go[2];
  REQUIRE(::pipe(go) == 0);
  std::vector<pid_t> pids;
  for (int w = 0; w < 2; ++w)
    pids.push_back(fork_process([&] {
      auto mine = store_at(url)->connect();
      ::close(go[1]);
      char c;
      (void)::read(go[0], &c, 1);  // both start when the pipe closes
      auto out = mine->append({deposit(acc, 0)});
      if (out[0]) return true;
      return out[0].error().is(annals::errc::concurrency_conflict)
             && out[0].error().message.find("is at version 1") != std::string::npos;
    }));
  ::close(go[0]);
  ::close(go[1]);
  for (pid_t p : pids) CHECK(wait_for(p) == 0);
  CHECK(store->stream_version(acc) == 1);
  CHECK(store->read_all(1, 10).size() == 1);
}

SCENARIO("A writer process paused inside its append transaction does not stall the other writers for long",
         "[store][postgres][paused]") {
  auto& server = PostgresServer::shared();
  const std::string url = server.create_database();
  auto options = [&](std::chrono::milliseconds lock_timeout) {
    PostgresStoreOptions o;
    o.url = url;
    o.idle_in_transaction_timeout = std::chrono::milliseconds(1500);
    o.lock_timeout = lock_timeout;
    return o;
  };
  auto store = annals::postgres_store(options(std::chrono::milliseconds(6000)))->connect();
  GIVEN("a writer process appending in a loop, stopped (SIGSTOP) while its transaction holds the log's counter row") {
    const pid_t writer = fork_process([&] {
      auto mine = annals::postgres_store(options(std::chrono::milliseconds(6000)))->connect();
      for (std::int64_t v = 0;; ++v) {
        try {
          mine->append({deposit({"account", "paused"}, v)});
        } catch (const StoreError&) {
          return false;
        }
      }
    });
    const KillOnExit kill_writer{writer};
    // Its session has an xid only after the counter row's SELECT ... FOR UPDATE.
    const std::string holding = "SELECT count(*) FROM pg_stat_activity WHERE datname = '" + db_of(url)
                                + "' AND state = 'idle in transaction' AND backend_xid IS NOT NULL";
    const StreamId paused{"account", "paused"};
    bool caught = false;
    for (int attempt = 0; attempt < 200 && !caught; ++attempt) {
      // Let it commit once more, so each stop lands somewhere else in its loop.
      const std::int64_t before = store->stream_version(paused);
      REQUIRE(annals::test::wait_until([&] { return store->stream_version(paused) > before; }));
      ::kill(writer, SIGSTOP);
      caught = server.exec("postgres", holding) == "1";
      if (!caught) ::kill(writer, SIGCONT);
    }
    REQUIRE(caught);

    WHEN("another writer appends") {
      const auto start = std::chrono::steady_clock::now();
      auto out = store->append({deposit({"account", "other"}, 0)});
      const auto waited = std::chrono::steady_clock::now() - start;
      THEN("the server ends the paused session after idle_in_transaction_timeout and the append commits, "
           "well before its lock_timeout") {
        REQUIRE(out[0]);
        CHECK(waited < std::chrono::milliseconds(5000));
        CHECK(waited >= std::chrono::milliseconds(1000));  // it did wait for the paused writer
      }
    }
  }
}

SCENARIO("A PostgreSQL store that cannot be reached or used is refused with a clear StoreError",
         "[store][postgres][errors]") {
  auto& server = PostgresServer::shared();

  GIVEN("no server at the URL's port") {
    const int port = closed_port();
    const auto e = connect_error(store_at("postgresql://postgres@127.0.0.1:" + std::to_string(port) + "/annals"));
    THEN("it says it cannot connect, to which host:port, and what to check") {
      CHECK(e.kind() == StoreFailure::unavailable);
      const std::string m = e.what();
      CHECK(m.find("cannot connect to PostgreSQL database 'annals' at 127.0.0.1:" + std::to_string(port)) == 0);
      CHECK(m.find("Connection refused") != std::string::npos);
      CHECK(m.find("check that the server runs") != std::string::npos);
      CHECK(m.find('\n') == std::string::npos);
      CHECK(e.error().code == "store_unavailable");
    }
  }

  GIVEN("a user with a password, and a URL with the wrong password or a user that does not exist") {
    const std::string url = server.create_database();
    server.exec("postgres", "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'alice') THEN"
                            " CREATE ROLE alice LOGIN PASSWORD 'right'; END IF; END $$");
    const auto wrong = connect_error(store_at(server.url(db_of(url), "alice", "wrong")));
    const auto nobody = connect_error(store_at(server.url(db_of(url), "nobody_here", "x")));
    THEN("each is refused naming the user and the server's reason") {
      CHECK(wrong.kind() == StoreFailure::unavailable);
      CHECK(std::string(wrong.what()).find("as user 'alice'") != std::string::npos);
      CHECK(std::string(wrong.what()).find("password authentication failed for user \"alice\"") != std::string::npos);
      CHECK(std::string(nobody.what()).find("as user 'nobody_here'") != std::string::npos);
      CHECK(std::string(wrong.what()).find("wrong") == std::string::npos);  // never the password
    }
  }

  GIVEN("a database that holds another application's tables") {
    const std::string url = server.create_database();
    server.exec(db_of(url), "CREATE TABLE invoices (id int PRIMARY KEY, total numeric)");
    server.exec(db_of(url), "INSERT INTO invoices VALUES (1, 9.5)");
    const auto e = connect_error(store_at(url));
    THEN("it is refused as another application's, and left untouched") {
      CHECK(e.kind() == StoreFailure::incompatible);
      CHECK(std::string(e.what()).find("holds 1 table(s) of another application (such as 'public.invoices')")
            != std::string::npos);
      CHECK(server.exec(db_of(url), "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == "1");
      CHECK(server.exec(db_of(url), "SELECT total FROM invoices WHERE id = 1") == "9.5");
    }
  }

  GIVEN("an annals store whose schema version is newer than this build's") {
    const std::string url = server.create_database();
    store_at(url)->connect();
    server.exec(db_of(url), "UPDATE annals_schema SET version = " + std::to_string(annals::postgres_schema_version() + 1));
    const auto e = connect_error(store_at(url));
    THEN("it is refused as written by a newer annals") {
      CHECK(e.kind() == StoreFailure::incompatible);
      CHECK(std::string(e.what()).find("written by a newer annals") != std::string::npos);
    }
  }

  GIVEN("an empty database opened by a tool (initialize = false)") {
    const std::string url = server.create_database();
    const auto e = connect_error(store_at(url, false));
    THEN("it is refused and nothing is created in it") {
      CHECK(e.kind() == StoreFailure::incompatible);
      CHECK(std::string(e.what()).find("is not an annals store") != std::string::npos);
      CHECK(server.exec(db_of(url), "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == "0");
    }
  }
}

SCENARIO("A connection outlives restarts of its server: it reopens its session by itself",
         "[store][postgres][restart]") {
  auto server = PostgresServer::start_own();
  server->exec("postgres", "CREATE DATABASE restarted");
  auto store = store_at(server->url("restarted"))->connect();
  REQUIRE(store->append({deposit({"account", "a"}, 0)})[0]);

  WHEN("the server restarted while the connection was idle") {
    server->restart();
    auto out = store->append({deposit({"account", "a"}, 1)});
    THEN("the next operation runs on a new session (nothing of it had reached the old one)") {
      REQUIRE(out[0]);
      CHECK(out[0]->events.at(0).position == 2);
      CHECK(store->head_position() == 2);
    }
  }
  WHEN("the server is down, then up again") {
    server->stop();
    std::string failure;
    try {
      store->append({deposit({"account", "a"}, 1)});
    } catch (const StoreError& e) {
      failure = e.what();
      CHECK(e.error().code == "store_unavailable");
    }
    server->start();
    THEN("the operation meanwhile fails as unavailable, naming the server; the next one after the start commits") {
      CHECK(failure.find("cannot connect to PostgreSQL database 'restarted' at 127.0.0.1:" + std::to_string(server->port()))
            == 0);
      auto again = store->append({deposit({"account", "a"}, 1)});
      REQUIRE(again[0]);
      CHECK(again[0]->events.at(0).position == 2);
    }
  }
}

SCENARIO("G7 text PostgreSQL cannot store fails that append alone, with a clear error, and loses nothing",
         "[store][postgres]") {
  GIVEN("a PostgreSQL store with one event") {
    auto store = store_at(PostgresServer::shared().create_database())->connect();
    REQUIRE(store->append({deposit({"account", "a"}, 0)})[0]);
    WHEN("one batch holds a good append, one whose stream id has a NUL, one whose event type is not UTF-8, and another good one") {
      AppendRequest nul = deposit({"account", std::string("b\0c", 3)}, 0);
      AppendRequest latin1 = deposit({"account", "d"}, 0);
      latin1.events[0].type = "d\xe9pos\xe9";
      auto out = store->append({deposit({"account", "a"}, 1), nul, latin1, deposit({"account", "e"}, 0)});
      THEN("the two bad appends fail as invalid_command naming the stream and the rule; the good ones commit, densely") {
        REQUIRE(out.size() == 4);
        REQUIRE(out[0]);
        REQUIRE_FALSE(out[1]);
        CHECK(out[1].error().code == "invalid_command");
        CHECK(out[1].error().message.find("cannot be stored in PostgreSQL") != std::string::npos);
        CHECK(out[1].error().message.find("UTF-8 text without NUL characters") != std::string::npos);
        REQUIRE_FALSE(out[2]);
        CHECK(out[2].error().code == "invalid_command");
        CHECK(out[2].error().message.find("account/d") != std::string::npos);
        REQUIRE(out[3]);
        CHECK(out[0]->events.at(0).position == 2);
        CHECK(out[3]->events.at(0).position == 3);
        CHECK(store->head_position() == 3);
        CHECK(store->event_count() == 3);
        CHECK(store->read_stream({"account", "d"}, 1, 10).empty());
      }
    }
  }
}

TEST_CASE("open_store_url picks the backend by the URL's form", "[store][url]") {
  CHECK(annals::store_kind("postgresql://u@h:1/db") == annals::StoreKind::postgres);
  CHECK(annals::store_kind("postgres://u@h/db") == annals::StoreKind::postgres);
  CHECK(annals::store_kind("memory") == annals::StoreKind::memory);
  CHECK(annals::store_kind("annals.db") == annals::StoreKind::sqlite);
  CHECK(annals::store_kind("./postgresql") == annals::StoreKind::sqlite);
  CHECK(annals::open_store_url("postgres://alice:secret@db.example:6543/ledger")->describe()
        == "postgresql://alice@db.example:6543/ledger");
  CHECK(annals::open_store_url("memory")->describe() == "memory");
  CHECK(annals::open_store_url("x/annals.db")->describe() == "sqlite:x/annals.db");
}
