// The PostgreSQL store through libpq: one session per EventStore, prepared
// statements, the schema and its migrations, the event log with dense
// positions in commit order (the log_head counter row), and every other port.
#include "annals/persistence/postgres_event_store.hpp"

#include "annals/persistence/cluster_coordination.hpp"

#include "detail/append_rules.hpp"
#include "annals/json_parse.hpp"
#include "annals/quoted.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <tuple>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace annals {

namespace {

// Migration i takes the schema from version i to version i + 1. Append new
// ones at the end; never edit a released one. Names and types are compared
// in byte order (COLLATE "C"), as in the SQLite store. Event data, metadata
// and other JSON are `json`, not `jsonb`: jsonb reorders an object's keys and
// rewrites numbers, so a replay would see other data than the live path,
// which parses the text as written (append_rules::committed_event).
const std::vector<const char*>& migrations() {
  static const std::vector<const char*> m = {
    // 0 -> 1: everything the SQLite store has at its schema version 4
    R"sql(
      CREATE TABLE events (
        position       bigint   PRIMARY KEY,          -- 1..n, dense, in commit order (log_head)
        stream_type    text     COLLATE "C" NOT NULL,
        stream_id      text     COLLATE "C" NOT NULL,
        version        bigint   NOT NULL,             -- 1..n within the stream
        type           text     COLLATE "C" NOT NULL,
        schema_version integer  NOT NULL,
        data           json     NOT NULL,
        metadata       json     NOT NULL,             -- correlation_id, causation_id, principal
        recorded_at    bigint   NOT NULL,             -- commit time, microseconds since the epoch
        UNIQUE (stream_type, stream_id, version)
      );
      -- The last position handed out. Each append transaction locks it first
      -- and sets it last: commits happen in position order, without holes.
      CREATE TABLE log_head (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        position  bigint  NOT NULL
      );
      INSERT INTO log_head(singleton, position) VALUES (true, 0);
      CREATE TABLE snapshots (
        stream_type      text    COLLATE "C" NOT NULL,
        stream_id        text    COLLATE "C" NOT NULL,
        version          bigint  NOT NULL,
        snapshot_version integer NOT NULL,
        state            json    NOT NULL,
        taken_at         bigint  NOT NULL,
        PRIMARY KEY (stream_type, stream_id)
      );
      CREATE TABLE idempotency_keys (
        key          text   COLLATE "C" PRIMARY KEY,
        stream_type  text   COLLATE "C" NOT NULL,
        stream_id    text   COLLATE "C" NOT NULL,
        fingerprint  text   NOT NULL,
        result       json   NOT NULL,
        created_at   bigint NOT NULL
      );
      CREATE TABLE dead_letters (
        projection   text    COLLATE "C" NOT NULL,
        position     bigint  NOT NULL,
        stream_type  text    COLLATE "C" NOT NULL,
        stream_id    text    COLLATE "C" NOT NULL,
        event_type   text    COLLATE "C" NOT NULL,
        error        text    NOT NULL,
        attempts     integer NOT NULL,
        parked_at    bigint  NOT NULL,
        PRIMARY KEY (projection, position)
      );
      CREATE TABLE projection_snapshots (
        projection       text    COLLATE "C" PRIMARY KEY,
        position         bigint  NOT NULL,
        snapshot_version integer NOT NULL,
        model            json    NOT NULL,
        taken_at         bigint  NOT NULL
      );
      CREATE TABLE command_audit (
        id             bigserial PRIMARY KEY,
        at             bigint NOT NULL,
        principal      text   NOT NULL,
        correlation_id text   NOT NULL,
        command_id     text   NOT NULL,
        aggregate      text   NOT NULL,
        aggregate_id   text   NOT NULL,
        command        text   NOT NULL,
        outcome        text   NOT NULL,
        code           text   NOT NULL,
        message        text   NOT NULL,
        position       bigint NOT NULL
      );
      CREATE TABLE store_users (
        kind         text   COLLATE "C" NOT NULL,
        name         text   COLLATE "C" NOT NULL,
        recorded_at  bigint NOT NULL,
        PRIMARY KEY (kind, name)
      );
    )sql",
    // 1 -> 2: clustered nodes (docs/cluster.md). Times by the database's
    // clock (timestamptz), never a node's.
    R"sql(
      CREATE TABLE cluster_settings (
        singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        shard_count integer NOT NULL CHECK (shard_count > 0)
      );
      -- One row per shard. Every acquisition adds one to epoch; an append
      -- holds the row FOR SHARE while it checks its fence, so a takeover
      -- waits for the appends of the old holder that already passed.
      CREATE TABLE shard_leases (
        shard      integer     PRIMARY KEY,
        owner      text        COLLATE "C",
        epoch      bigint      NOT NULL DEFAULT 0,
        expires_at timestamptz NOT NULL DEFAULT 'epoch'
      );
      CREATE TABLE cluster_members (
        node         text        COLLATE "C" PRIMARY KEY,
        address      text        NOT NULL,
        http_address text        NOT NULL,
        incarnation  bigint      NOT NULL,
        joined_at    timestamptz NOT NULL,
        heartbeat_at timestamptz NOT NULL,
        left_at      timestamptz
      );
    )sql",
  };
  return m;
}

int latest_version() { return static_cast<int>(migrations().size()); }

// Serialises schema creation and migration between sessions (any number).
// Held by the session around creating or migrating the schema. A session
// lock taken before BEGIN, not a transaction's: a transaction that began
// before another session's CREATE TABLEs committed keeps its stale catalog
// view (to_regclass finds nothing) even after waiting for the lock.
constexpr const char* schema_lock = "SELECT pg_advisory_lock(4714195538126004224)";  // "ANNL" << 32
constexpr const char* schema_unlock = "SELECT pg_advisory_unlock(4714195538126004224)";

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using Conn = std::unique_ptr<PGconn, ConnDeleter>;

// The parts of a connection URI that messages name (never the password).
struct Target {
  std::string user, host, port, dbname;
  std::string where() const { return (host.empty() ? "localhost" : host) + ":" + (port.empty() ? "5432" : port); }
  std::string url() const {
    return "postgresql://" + (user.empty() ? "" : user + "@") + where() + "/" + dbname;
  }
};

Target parse_target(const std::string& url) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  if (!opts) {
    std::string why = err ? err : "out of memory";
    if (err) PQfreemem(err);
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    throw StoreError(StoreFailure::unavailable,
                     "'" + url + "' is not a PostgreSQL connection URL (" + why
                       + "); write postgresql://user@host:port/database");
  }
  Target t;
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    if (!o->val) continue;
    const std::string k = o->keyword;
    if (k == "user") t.user = o->val;
    else if (k == "host") t.host = o->val;
    else if (k == "port") t.port = o->val;
    else if (k == "dbname") t.dbname = o->val;
  }
  PQconninfoFree(opts);
  if (t.dbname.empty()) t.dbname = t.user;  // libpq's default
  return t;
}

// libpq's message without its framing: the first line, without
// "connection to server at ... failed: " and "FATAL:  ".
std::string server_says(const char* message) {
  std::string m = message ? message : "";
  const auto failed = m.find(" failed: ");
  if (m.rfind("connection to server", 0) == 0 && failed != std::string::npos) m = m.substr(failed + 9);
  for (const char* prefix : {"FATAL:  ", "ERROR:  "})
    if (m.rfind(prefix, 0) == 0) m = m.substr(std::strlen(prefix));
  const auto nl = m.find('\n');
  if (nl != std::string::npos) m = m.substr(0, nl);
  while (!m.empty() && m.back() == ' ') m.pop_back();
  return m;
}

// A statement that the server refused (the session is still there).
struct ServerError {
  std::string sqlstate;
  std::string message;
};

// Columns of text results.
std::string text(PGresult* r, int row, int col) { return std::string(PQgetvalue(r, row, col), PQgetlength(r, row, col)); }
std::int64_t int64(PGresult* r, int row, int col) { return std::stoll(PQgetvalue(r, row, col)); }
int int32(PGresult* r, int row, int col) { return std::stoi(PQgetvalue(r, row, col)); }

json::value parse_stored(const std::string& stored, const std::string& what) {
  json::error_code ec;
  json::value v = parse_json(stored, ec);
  if (ec) throw StoreError(StoreFailure::corrupt, what + " is not valid JSON: " + ec.message());
  return v;
}

std::string count_text(std::size_t n) {
  return std::to_string(std::min<std::size_t>(n, static_cast<std::size_t>(INT64_MAX)));
}

// The prepared statements, by name. Parameters are text ($1, $2, ...).
const std::vector<std::pair<const char*, const char*>>& statements() {
  static const std::vector<std::pair<const char*, const char*>> s = {
    {"lock_head", "SELECT position FROM log_head FOR UPDATE"},
    // The new head, and in the same round trip the notice that the listening
    // followers get when the transaction commits (G9).
    {"set_head",
     "WITH h AS (UPDATE log_head SET position = $1 RETURNING position)"
     " SELECT pg_notify('annals_log', position::text) FROM h"},
    {"head", "SELECT position FROM log_head"},
    {"insert_event",
     "INSERT INTO events(position, stream_type, stream_id, version, type, schema_version, data, metadata, recorded_at)"
     " VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9)"},
    {"version", "SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_type = $1 AND stream_id = $2"},
    {"read_stream",
     "SELECT position, version, type, schema_version, data, metadata, recorded_at FROM events"
     " WHERE stream_type = $1 AND stream_id = $2 AND version >= $3 ORDER BY version LIMIT $4"},
    {"read_all",
     "SELECT position, stream_type, stream_id, version, type, schema_version, data, metadata, recorded_at"
     " FROM events WHERE position >= $1 ORDER BY position LIMIT $2"},
    {"count", "SELECT count(*) FROM events"},
    {"find_key", "SELECT stream_type, stream_id, fingerprint, result FROM idempotency_keys WHERE key = $1"},
    {"insert_key",
     "INSERT INTO idempotency_keys(key, stream_type, stream_id, fingerprint, result, created_at)"
     " VALUES($1, $2, $3, $4, $5, $6)"},
    {"load_snapshot",
     "SELECT version, snapshot_version, state, taken_at FROM snapshots WHERE stream_type = $1 AND stream_id = $2"},
    {"save_snapshot",
     "INSERT INTO snapshots AS s(stream_type, stream_id, version, snapshot_version, state, taken_at)"
     " VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT (stream_type, stream_id) DO UPDATE SET"
     " version = excluded.version, snapshot_version = excluded.snapshot_version,"
     " state = excluded.state, taken_at = excluded.taken_at"
     " WHERE excluded.version >= s.version OR excluded.snapshot_version <> s.snapshot_version"},
    {"park_event",
     "INSERT INTO dead_letters(projection, position, stream_type, stream_id, event_type, error, attempts, parked_at)"
     " VALUES($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (projection, position) DO UPDATE SET"
     " stream_type = excluded.stream_type, stream_id = excluded.stream_id, event_type = excluded.event_type,"
     " error = excluded.error, attempts = excluded.attempts, parked_at = excluded.parked_at"},
    {"dead_letters",
     "SELECT projection, position, stream_type, stream_id, event_type, error, attempts, parked_at"
     " FROM dead_letters WHERE projection = $1 ORDER BY position"},
    {"all_dead_letters",
     "SELECT projection, position, stream_type, stream_id, event_type, error, attempts, parked_at"
     " FROM dead_letters ORDER BY projection, position"},
    {"remove_dead_letter", "DELETE FROM dead_letters WHERE projection = $1 AND position = $2"},
    {"load_projection_snapshot",
     "SELECT position, snapshot_version, model, taken_at FROM projection_snapshots WHERE projection = $1"},
    {"save_projection_snapshot",
     "INSERT INTO projection_snapshots AS p(projection, position, snapshot_version, model, taken_at)"
     " VALUES($1, $2, $3, $4, $5) ON CONFLICT (projection) DO UPDATE SET"
     " position = excluded.position, snapshot_version = excluded.snapshot_version,"
     " model = excluded.model, taken_at = excluded.taken_at"
     " WHERE excluded.position >= p.position OR excluded.snapshot_version <> p.snapshot_version"},
    {"replace_projection_snapshot",
     "INSERT INTO projection_snapshots(projection, position, snapshot_version, model, taken_at)"
     " VALUES($1, $2, $3, $4, $5) ON CONFLICT (projection) DO UPDATE SET"
     " position = excluded.position, snapshot_version = excluded.snapshot_version,"
     " model = excluded.model, taken_at = excluded.taken_at"},
    {"insert_audit",
     "INSERT INTO command_audit(at, principal, correlation_id, command_id, aggregate, aggregate_id, command,"
     " outcome, code, message, position) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"},
    {"read_audit",
     "SELECT id, at, principal, correlation_id, command_id, aggregate, aggregate_id, command, outcome, code,"
     " message, position FROM command_audit WHERE id >= $1 ORDER BY id LIMIT $2"},
    // The distinct stream types by the stream index, one probe per type, not a scan of the log.
    {"aggregate_types",
     "WITH RECURSIVE t(name) AS (SELECT MIN(stream_type) FROM events"
     " UNION ALL SELECT (SELECT MIN(stream_type) FROM events WHERE stream_type > t.name) FROM t"
     " WHERE t.name IS NOT NULL) SELECT name FROM t WHERE name IS NOT NULL"},
    {"event_types", "SELECT DISTINCT type FROM events ORDER BY type"},
    {"read_users", "SELECT kind, name FROM store_users ORDER BY kind, name"},
    // Clustered nodes: the fence of an append, and the lease and membership tables.
    {"check_fence",
     "SELECT 1 FROM shard_leases WHERE shard = $1 AND owner = $2 AND epoch = $3 AND expires_at > clock_timestamp()"
     " FOR SHARE"},
    {"set_shard_count",
     "INSERT INTO cluster_settings(singleton, shard_count) VALUES (true, $1) ON CONFLICT (singleton) DO NOTHING"},
    {"shard_count", "SELECT shard_count FROM cluster_settings"},
    {"add_shards", "INSERT INTO shard_leases(shard) SELECT generate_series(0, $1 - 1) ON CONFLICT (shard) DO NOTHING"},
    {"acquire_lease",
     "UPDATE shard_leases SET owner = $2, epoch = epoch + 1,"
     " expires_at = clock_timestamp() + $3::bigint * interval '1 millisecond'"
     " WHERE shard = $1 AND (owner IS NULL OR owner = $2 OR expires_at <= clock_timestamp()) RETURNING epoch"},
    {"renew_leases",
     "UPDATE shard_leases SET expires_at = clock_timestamp() + $2::bigint * interval '1 millisecond'"
     " WHERE owner = $1 AND expires_at > clock_timestamp() RETURNING shard, epoch"},
    {"release_lease",
     "UPDATE shard_leases SET owner = NULL, expires_at = 'epoch' WHERE shard = $1 AND owner = $2 AND epoch = $3"},
    {"read_leases",
     "SELECT shard, COALESCE(owner, ''), epoch,"
     // ceil: a lease with 0.4 ms left reads 1 ms, so remaining <= 0 means expired (as documented)
     " ceil(EXTRACT(EPOCH FROM (expires_at - clock_timestamp())) * 1000)::bigint FROM shard_leases ORDER BY shard"},
    {"join_member",
     "INSERT INTO cluster_members AS m(node, address, http_address, incarnation, joined_at, heartbeat_at)"
     " VALUES ($1, $2, $3, 1, clock_timestamp(), clock_timestamp()) ON CONFLICT (node) DO UPDATE SET"
     " address = excluded.address, http_address = excluded.http_address, incarnation = m.incarnation + 1,"
     " joined_at = excluded.joined_at, heartbeat_at = excluded.heartbeat_at, left_at = NULL"
     " WHERE m.left_at IS NOT NULL OR m.address = excluded.address"
     " OR m.heartbeat_at <= clock_timestamp() - $4::bigint * interval '1 millisecond'"
     " RETURNING incarnation"},
    {"heartbeat_member",
     "UPDATE cluster_members SET heartbeat_at = clock_timestamp() WHERE node = $1 AND incarnation = $2"
     " AND left_at IS NULL"},
    {"leave_member",
     "UPDATE cluster_members SET left_at = clock_timestamp() WHERE node = $1 AND incarnation = $2"},
    {"read_members",
     "SELECT node, address, http_address, incarnation,"
     " floor(EXTRACT(EPOCH FROM (clock_timestamp() - heartbeat_at)) * 1000)::bigint, left_at IS NOT NULL"
     " FROM cluster_members ORDER BY node"},
    {"insert_user",
     "INSERT INTO store_users(kind, name, recorded_at) VALUES($1, $2, $3) ON CONFLICT (kind, name) DO NOTHING"},
  };
  return s;
}

constexpr const char* aggregate_kind = "aggregate";
constexpr const char* projection_kind = "projection";

class PostgresEventStore final : public EventStore, public ClusterCoordination {
public:
  explicit PostgresEventStore(PostgresStoreOptions opts) : opts_(std::move(opts)), target_(parse_target(opts_.url)) {
    connect("opening the store");
  }

  // EventLog

  std::vector<AppendOutcome> append(const std::vector<AppendRequest>& batch) override {
    require_writable("cannot append");
    std::vector<AppendOutcome> out;
    out.reserve(batch.size());
    const std::string doing = "appending " + std::to_string(batch.size()) + " command(s)";
    if (batch.empty()) return out;
    transaction(doing, [&] {
      // The counter row first: the whole batch runs while no other writer
      // can commit, so the reads of the append rules are current, inserts
      // meet no other writer's uncommitted rows (no deadlock), and this
      // batch's positions follow the last committed one without a hole.
      std::int64_t head = int64(run("lock_head", {}).get(), 0, 0);
      const std::int64_t first_free = head + 1;
      const std::int64_t now = now_us();
      FenceChecks fences;
      for (const auto& req : batch) {
        if (req.fence && !fence_holds(*req.fence, fences)) out.push_back(append_rules::not_owner(req));
        else out.push_back(append_one(req, now, head));
      }
      // The counter row's new value as the last statement before COMMIT,
      // with the notice that other processes' followers wait for: PostgreSQL
      // delivers it at COMMIT, and not at all on a rollback.
      if (head >= first_free) run("set_head", {std::to_string(head)});
    });
    return out;
  }

  std::vector<Event> read_stream(const StreamId& s, std::int64_t from_version, std::size_t max_count) override {
    std::vector<Event> out;
    guarded("reading stream " + s.to_string(), [&] {
      Result r = run("read_stream", {s.aggregate, s.id, std::to_string(from_version), count_text(max_count)});
      for (int i = 0; i < PQntuples(r.get()); ++i) {
        Event e;
        e.stream = s;
        e.position = int64(r.get(), i, 0);
        e.version = int64(r.get(), i, 1);
        fill(e, r.get(), i, 2);
        out.push_back(std::move(e));
      }
    });
    return out;
  }

  std::vector<Event> read_all(std::int64_t from_position, std::size_t max_count) override {
    std::vector<Event> out;
    guarded("reading events from position " + std::to_string(from_position), [&] {
      Result r = run("read_all", {std::to_string(from_position), count_text(max_count)});
      for (int i = 0; i < PQntuples(r.get()); ++i) {
        Event e;
        e.position = int64(r.get(), i, 0);
        e.stream = {text(r.get(), i, 1), text(r.get(), i, 2)};
        e.version = int64(r.get(), i, 3);
        fill(e, r.get(), i, 4);
        out.push_back(std::move(e));
      }
    });
    return out;
  }

  std::int64_t head_position() override {
    std::int64_t v = 0;
    guarded("reading the head position", [&] { v = int64(run("head", {}).get(), 0, 0); });
    return v;
  }

  bool notifies() const override { return true; }

  bool await_commit_notice(std::chrono::milliseconds max_wait) override {
    bool new_session = false;
    guarded("listening for other sessions' commits", [&] {
      if (listening_) return;
      exec_sql("LISTEN annals_log");
      listening_ = true;
      new_session = true;
    });
    // Commits before LISTEN sent this session nothing: the caller reads the head.
    if (new_session || take_notices()) return true;
    pollfd socket{PQsocket(conn_.get()), POLLIN, 0};
    const int ready = ::poll(&socket, 1, static_cast<int>(std::max<std::int64_t>(0, max_wait.count())));
    if (ready < 0 && errno != EINTR)
      throw StoreError(StoreFailure::unavailable,
                       "cannot wait for notices from " + database() + ": " + std::strerror(errno));
    if (PQconsumeInput(conn_.get()) == 0) {
      const std::string why = server_says(PQerrorMessage(conn_.get()));
      conn_.reset();
      throw StoreError(StoreFailure::unavailable, "lost the connection to " + database()
                                                    + " while listening for other sessions' commits (" + why
                                                    + "); annals reconnects on the next call");
    }
    return take_notices();
  }

  std::int64_t stream_version(const StreamId& s) override {
    std::int64_t v = 0;
    guarded("reading the version of " + s.to_string(), [&] { v = current_version(s); });
    return v;
  }

  std::optional<IdempotencyRecord> find_idempotency_key(const std::string& key) override {
    std::optional<IdempotencyRecord> out;
    guarded("looking up an idempotency key", [&] { out = lookup_key(key); });
    return out;
  }

  std::int64_t event_count() override {
    std::int64_t n = 0;
    guarded("counting events", [&] { n = int64(run("count", {}).get(), 0, 0); });
    return n;
  }

  std::vector<StreamInfo> streams(const std::string& aggregate, const std::optional<StreamId>& after,
                                  std::size_t max_count) override {
    std::vector<StreamInfo> out;
    guarded(aggregate.empty() ? std::string("listing streams") : "listing streams of '" + aggregate + "'", [&] {
      std::string sql =
        "SELECT stream_type, stream_id, MAX(version), COUNT(*), MIN(position), MAX(position) FROM events";
      std::vector<std::string> params;
      std::vector<std::string> where;
      if (!aggregate.empty()) {
        params.push_back(aggregate);
        where.push_back("stream_type = $" + std::to_string(params.size()));
      }
      if (after) {
        params.push_back(after->aggregate);
        params.push_back(after->id);
        where.push_back("(stream_type, stream_id) > ($" + std::to_string(params.size() - 1) + ", $"
                        + std::to_string(params.size()) + ")");
      }
      for (std::size_t i = 0; i < where.size(); ++i) sql += (i == 0 ? " WHERE " : " AND ") + where[i];
      params.push_back(count_text(max_count));
      sql += " GROUP BY stream_type, stream_id ORDER BY stream_type, stream_id LIMIT $" + std::to_string(params.size());
      Result r = run_sql(sql, params);
      for (int i = 0; i < PQntuples(r.get()); ++i) {
        StreamInfo info;
        info.stream = {text(r.get(), i, 0), text(r.get(), i, 1)};
        info.version = int64(r.get(), i, 2);
        info.events = int64(r.get(), i, 3);
        info.first_position = int64(r.get(), i, 4);
        info.last_position = int64(r.get(), i, 5);
        out.push_back(std::move(info));
      }
    });
    return out;
  }

  std::vector<std::string> aggregate_types() override { return names("aggregate_types", "listing the aggregate types"); }
  std::vector<std::string> event_types() override { return names("event_types", "listing the event types"); }

  // AggregateSnapshotStore

  std::optional<Snapshot> load_snapshot(const StreamId& s) override {
    std::optional<Snapshot> out;
    guarded("loading the snapshot of " + s.to_string(), [&] {
      Result r = run("load_snapshot", {s.aggregate, s.id});
      if (PQntuples(r.get()) == 0) return;
      Snapshot snap;
      snap.stream = s;
      snap.version = int64(r.get(), 0, 0);
      snap.snapshot_version = int32(r.get(), 0, 1);
      snap.state = parse_stored(text(r.get(), 0, 2), "the snapshot of " + s.to_string());
      snap.taken_at_us = int64(r.get(), 0, 3);
      out = std::move(snap);
    });
    return out;
  }

  void save_snapshot(const Snapshot& snap) override {
    if (opts_.read_only) return;  // a snapshot is an optimisation; never an error
    guarded("saving the snapshot of " + snap.stream.to_string(), [&] {
      run("save_snapshot", {snap.stream.aggregate, snap.stream.id, std::to_string(snap.version),
                            std::to_string(snap.snapshot_version), json::serialize(snap.state),
                            std::to_string(snap.taken_at_us ? snap.taken_at_us : now_us())});
    });
  }

  // ProjectionStateStore

  void park_event(const DeadLetter& d) override {
    require_writable("cannot park an event");
    guarded("parking event " + std::to_string(d.position) + " for projection '" + d.projection + "'", [&] {
      run("park_event", {d.projection, std::to_string(d.position), d.stream.aggregate, d.stream.id, d.event_type,
                         d.error, std::to_string(d.attempts),
                         std::to_string(d.parked_at_us ? d.parked_at_us : now_us())});
    });
  }

  std::vector<DeadLetter> dead_letters(const std::string& projection) override {
    std::vector<DeadLetter> out;
    guarded(projection.empty() ? std::string("listing parked events")
                               : "listing parked events of projection '" + projection + "'",
            [&] {
              Result r = projection.empty() ? run("all_dead_letters", {}) : run("dead_letters", {projection});
              for (int i = 0; i < PQntuples(r.get()); ++i) {
                DeadLetter d;
                d.projection = text(r.get(), i, 0);
                d.position = int64(r.get(), i, 1);
                d.stream = {text(r.get(), i, 2), text(r.get(), i, 3)};
                d.event_type = text(r.get(), i, 4);
                d.error = text(r.get(), i, 5);
                d.attempts = int32(r.get(), i, 6);
                d.parked_at_us = int64(r.get(), i, 7);
                out.push_back(std::move(d));
              }
            });
    return out;
  }

  bool remove_dead_letter(const std::string& projection, std::int64_t position) override {
    require_writable("cannot remove a parked event");
    bool removed = false;
    guarded("removing parked event " + std::to_string(position) + " of projection '" + projection + "'", [&] {
      removed = affected(run("remove_dead_letter", {projection, std::to_string(position)}).get()) > 0;
    });
    return removed;
  }

  bool unpark_retried(const std::string& projection, std::int64_t position,
                      const std::optional<ProjectionSnapshot>& snapshot) override {
    require_writable("cannot remove a parked event");
    bool removed = false;
    transaction("removing retried event " + std::to_string(position) + " of projection '" + projection
                  + "' from the dead letters",
                [&] {
                  removed = affected(run("remove_dead_letter", {projection, std::to_string(position)}).get()) > 0;
                  if (removed && snapshot)
                    run("replace_projection_snapshot",
                        {snapshot->projection, std::to_string(snapshot->position),
                         std::to_string(snapshot->snapshot_version), json::serialize(snapshot->model),
                         std::to_string(snapshot->taken_at_us ? snapshot->taken_at_us : now_us())});
                });
    return removed;
  }

  std::optional<ProjectionSnapshot> load_projection_snapshot(const std::string& projection) override {
    std::optional<ProjectionSnapshot> out;
    guarded("loading the snapshot of projection '" + projection + "'", [&] {
      Result r = run("load_projection_snapshot", {projection});
      if (PQntuples(r.get()) == 0) return;
      ProjectionSnapshot snap;
      snap.projection = projection;
      snap.position = int64(r.get(), 0, 0);
      snap.snapshot_version = int32(r.get(), 0, 1);
      snap.model = parse_stored(text(r.get(), 0, 2), "the snapshot of projection '" + projection + "'");
      snap.taken_at_us = int64(r.get(), 0, 3);
      out = std::move(snap);
    });
    return out;
  }

  void save_projection_snapshot(const ProjectionSnapshot& snap) override {
    require_writable("cannot save a projection snapshot");
    guarded("saving the snapshot of projection '" + snap.projection + "'", [&] {
      run("save_projection_snapshot",
          {snap.projection, std::to_string(snap.position), std::to_string(snap.snapshot_version),
           json::serialize(snap.model), std::to_string(snap.taken_at_us ? snap.taken_at_us : now_us())});
    });
  }

  // AuditTrail

  void append_audit(const std::vector<AuditRecord>& records) override {
    if (records.empty()) return;
    require_writable("cannot write the audit trail");
    transaction("writing " + std::to_string(records.size()) + " audit record(s)", [&] {
      // Under the counter row, as appends write their audit lines: ids are
      // then taken and committed in one order, so a reader paging by id
      // never passes a line that commits later.
      run("lock_head", {});
      for (const auto& rec : records) insert_audit(rec);
    });
  }

  std::vector<AuditRecord> audit_log(std::int64_t from_id, std::size_t max_count) override {
    std::vector<AuditRecord> out;
    guarded("reading the audit trail", [&] {
      Result r = run("read_audit", {std::to_string(from_id), count_text(max_count)});
      for (int i = 0; i < PQntuples(r.get()); ++i) {
        AuditRecord rec;
        rec.id = int64(r.get(), i, 0);
        rec.at_us = int64(r.get(), i, 1);
        rec.principal = text(r.get(), i, 2);
        rec.correlation_id = text(r.get(), i, 3);
        rec.command_id = text(r.get(), i, 4);
        rec.stream = {text(r.get(), i, 5), text(r.get(), i, 6)};
        rec.command = text(r.get(), i, 7);
        rec.outcome = text(r.get(), i, 8);
        rec.code = text(r.get(), i, 9);
        rec.message = text(r.get(), i, 10);
        rec.position = int64(r.get(), i, 11);
        out.push_back(std::move(rec));
      }
    });
    return out;
  }

  // StoreUsage

  void record_users(const StoreUsers& users) override {
    if (opts_.read_only) return;  // a record for tools: nothing to refuse
    const auto known = recorded_users();
    std::vector<std::pair<const char*, std::string>> missing;
    for (const auto& a : users.aggregates)
      if (!known->aggregates.count(a)) missing.emplace_back(aggregate_kind, a);
    for (const auto& p : users.projections)
      if (!known->projections.count(p)) missing.emplace_back(projection_kind, p);
    if (missing.empty()) return;
    transaction("recording what uses the store", [&] {
      for (const auto& [kind, name] : missing) run("insert_user", {kind, name, std::to_string(now_us())});
    });
  }

  std::optional<StoreUsers> recorded_users() override {
    StoreUsers out;
    guarded("reading what uses the store", [&] {
      Result r = run("read_users", {});
      for (int i = 0; i < PQntuples(r.get()); ++i) {
        const std::string kind = text(r.get(), i, 0);
        if (kind == aggregate_kind) out.aggregates.insert(text(r.get(), i, 1));
        else if (kind == projection_kind) out.projections.insert(text(r.get(), i, 1));
      }
    });
    return out;
  }

  // ShardLeaseTable

  void configure_shards(int shard_count) override {
    require_writable("cannot set up the cluster's shards");
    transaction("setting up " + std::to_string(shard_count) + " shards", [&] {
      run("set_shard_count", {std::to_string(shard_count)});
      const int recorded = int32(run("shard_count", {}).get(), 0, 0);
      if (recorded != shard_count)
        throw StoreError(StoreFailure::incompatible,
                         "the cluster in " + database() + " has " + std::to_string(recorded)
                           + " shards, this node is configured with " + std::to_string(shard_count)
                           + "; every node of a cluster must use the same shard count (set shard_count to "
                           + std::to_string(recorded) + ")");
      run("add_shards", {std::to_string(shard_count)});
    });
  }

  std::optional<ShardFence> acquire(int shard, const std::string& node, std::chrono::milliseconds ttl) override {
    require_writable("cannot take a shard");
    std::optional<ShardFence> out;
    guarded("taking shard " + std::to_string(shard) + " for node " + quoted(node), [&] {
      Result r = run("acquire_lease", {std::to_string(shard), node, std::to_string(ttl.count())});
      if (PQntuples(r.get()) == 1) out = ShardFence{shard, node, int64(r.get(), 0, 0)};
    });
    return out;
  }

  std::vector<ShardFence> renew(const std::string& node, std::chrono::milliseconds ttl) override {
    require_writable("cannot renew shard leases");
    std::vector<ShardFence> out;
    guarded("renewing the shard leases of node " + quoted(node), [&] {
      Result r = run("renew_leases", {node, std::to_string(ttl.count())});
      for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back({int32(r.get(), i, 0), node, int64(r.get(), i, 1)});
    });
    std::sort(out.begin(), out.end(), [](const ShardFence& a, const ShardFence& b) { return a.shard < b.shard; });
    return out;
  }

  bool release(const ShardFence& fence) override {
    require_writable("cannot hand back a shard");
    bool released = false;
    guarded("handing back shard " + std::to_string(fence.shard) + " of node " + quoted(fence.node), [&] {
      released = affected(run("release_lease", {std::to_string(fence.shard), fence.node,
                                                std::to_string(fence.epoch)}).get()) > 0;
    });
    return released;
  }

  std::vector<ShardLease> leases() override {
    std::vector<ShardLease> out;
    guarded("reading the shard leases", [&] {
      Result r = run("read_leases", {});
      for (int i = 0; i < PQntuples(r.get()); ++i)
        out.push_back({int32(r.get(), i, 0), text(r.get(), i, 1), int64(r.get(), i, 2),
                       std::chrono::milliseconds(int64(r.get(), i, 3))});
    });
    return out;
  }

  // MembershipTable

  std::int64_t join(const ClusterMember& me, std::chrono::milliseconds alive_within) override {
    require_writable("cannot join the cluster");
    std::optional<std::int64_t> incarnation;
    guarded("registering node " + quoted(me.node), [&] {
      Result r = run("join_member", {me.node, me.address, me.http_address, std::to_string(alive_within.count())});
      if (PQntuples(r.get()) == 1) incarnation = int64(r.get(), 0, 0);
    });
    if (incarnation) return *incarnation;
    std::string holder = "another address";
    for (const auto& m : members())
      if (m.node == me.node)
        holder = m.address + " (its last heartbeat " + std::to_string(m.since_heartbeat.count()) + " ms ago)";
    throw StoreError(StoreFailure::incompatible,
                     "node name " + quoted(me.node) + " is in use by a live member of the cluster at " + holder
                       + "; give this node another name, or stop the other one (a member counts as gone "
                       + std::to_string(alive_within.count()) + " ms after its last heartbeat)");
  }

  bool heartbeat(const std::string& node, std::int64_t incarnation) override {
    require_writable("cannot record a heartbeat");
    bool alive = false;
    guarded("recording the heartbeat of node " + quoted(node), [&] {
      alive = affected(run("heartbeat_member", {node, std::to_string(incarnation)}).get()) > 0;
    });
    return alive;
  }

  void leave(const std::string& node, std::int64_t incarnation) override {
    require_writable("cannot leave the cluster");
    guarded("unregistering node " + quoted(node), [&] { run("leave_member", {node, std::to_string(incarnation)}); });
  }

  std::vector<ClusterMember> members() override {
    std::vector<ClusterMember> out;
    guarded("reading the cluster's members", [&] {
      Result r = run("read_members", {});
      for (int i = 0; i < PQntuples(r.get()); ++i) {
        ClusterMember m;
        m.node = text(r.get(), i, 0);
        m.address = text(r.get(), i, 1);
        m.http_address = text(r.get(), i, 2);
        m.incarnation = int64(r.get(), i, 3);
        m.since_heartbeat = std::chrono::milliseconds(int64(r.get(), i, 4));
        m.left = text(r.get(), i, 5) == "t";
        out.push_back(std::move(m));
      }
    });
    return out;
  }

private:
  // Fences checked in one append transaction: a row held FOR SHARE cannot
  // change before COMMIT, so one check per fence is enough.
  using FenceChecks = std::map<std::tuple<int, std::string, std::int64_t>, bool>;

  // Whether the fence holds, checked inside the append's transaction: the
  // lease row is locked FOR SHARE until COMMIT, so no takeover (which
  // updates the row) can commit between this check and the events.
  bool fence_holds(const ShardFence& f, FenceChecks& checked) {
    const auto key = std::make_tuple(f.shard, f.node, f.epoch);
    auto it = checked.find(key);
    if (it != checked.end()) return it->second;
    const bool holds =
      PQntuples(run("check_fence", {std::to_string(f.shard), f.node, std::to_string(f.epoch)}).get()) == 1;
    checked.emplace(key, holds);
    return holds;
  }

  std::string database() const { return "PostgreSQL database '" + target_.dbname + "' at " + target_.where(); }

  void require_writable(const char* what) const {
    if (opts_.read_only)
      throw StoreError(StoreFailure::read_only, database() + " is opened read-only; " + what);
  }

  // Drops the notices that arrived; true when there was one.
  bool take_notices() {
    bool any = false;
    while (PGnotify* n = PQnotifies(conn_.get())) {
      any = true;
      PQfreemem(n);
    }
    return any;
  }

  // Opens a session: settings, then the schema check (and creation or
  // migration), then the prepared statements.
  void connect(const std::string& doing) {
    listening_ = false;  // LISTEN belongs to the session
    const std::string connect_timeout = std::to_string(std::max<std::int64_t>(1, opts_.connect_timeout.count()));
    // Our defaults first: the URL's own parameters override them.
    const char* keys[] = {"connect_timeout", "application_name", "client_encoding", "dbname", nullptr};
    const char* values[] = {connect_timeout.c_str(), "annals", "UTF8", opts_.url.c_str(), nullptr};
    Conn c(PQconnectdbParams(keys, values, 1));
    if (!c) throw StoreError(StoreFailure::unavailable, "cannot connect to " + database() + ": out of memory");
    if (PQstatus(c.get()) != CONNECTION_OK)
      throw StoreError(StoreFailure::unavailable,
                       "cannot connect to " + database() + " as user '" + (target_.user.empty() ? PQuser(c.get()) : target_.user)
                         + "' while " + doing + ": " + server_says(PQerrorMessage(c.get()))
                         + "; check that the server runs and accepts this user, and the URL");
    conn_ = std::move(c);
    try {
      // A session stuck inside a transaction (a paused process) must not
      // hold the counter row, and every other writer with it, for long.
      exec_sql("SET idle_in_transaction_session_timeout = "
               + std::to_string(opts_.idle_in_transaction_timeout.count()));
      exec_sql("SET lock_timeout = " + std::to_string(opts_.lock_timeout.count()));
      exec_sql("SET client_min_messages = warning");
      if (opts_.read_only) exec_sql("SET default_transaction_read_only = on");
      check_schema();
      for (const auto& [name, sql] : statements()) {
        Result r(PQprepare(conn_.get(), name, sql, 0, nullptr));
        check(r.get(), "preparing statement " + std::string(name));
      }
    } catch (const ServerError& e) {
      conn_.reset();
      throw store_error(e, doing);
    } catch (...) {
      conn_.reset();
      throw;
    }
  }

  // Creates or migrates annals' schema, or refuses a database that holds
  // something else or a newer version.
  void check_schema() {
    auto version = schema_version();
    if (version && *version == latest_version()) return;
    if (version && *version > latest_version())
      throw StoreError(StoreFailure::incompatible,
                       database() + " has annals schema version " + std::to_string(*version)
                         + ", written by a newer annals (this build knows versions up to "
                         + std::to_string(latest_version()) + "); use a newer annals");
    if (!version) {
      try {
        refuse_foreign_tables();
      } catch (const StoreError&) {
        // Another session may have created the schema between the two
        // reads (its tables appear at its COMMIT, annals_schema with them).
        if (schema_version()) return check_schema();
        throw;
      }
    }
    if (!opts_.initialize || opts_.read_only)
      throw StoreError(StoreFailure::incompatible,
                       version ? database() + " has annals schema version " + std::to_string(*version)
                                   + ", older than this build's " + std::to_string(latest_version())
                                   + "; the tools do not migrate it: run a runtime (`annals run`) on it first"
                               : database() + " is not an annals store (it has no annals schema); the tools"
                                   " never initialise one: `annals run` or a runtime creates it");
    exec_sql(schema_lock);
    struct Unlock {
      PostgresEventStore* s;
      ~Unlock() {
        try {
          s->exec_sql(schema_unlock);
        } catch (...) {  // a lost session has released it anyway
        }
      }
    } unlock{this};
    exec_sql("BEGIN");
    try {
      // Another session may have created or migrated it while we waited.
      version = schema_version();
      if (!version) {
        refuse_foreign_tables();
        exec_sql("CREATE TABLE annals_schema (singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),"
                 " version integer NOT NULL)");
        exec_sql("INSERT INTO annals_schema(singleton, version) VALUES (true, 0)");
        version = 0;
      }
      for (int v = *version; v < latest_version(); ++v) exec_sql(migrations()[static_cast<std::size_t>(v)]);
      if (*version < latest_version())
        exec_sql("UPDATE annals_schema SET version = " + std::to_string(latest_version()));
      exec_sql("COMMIT");
    } catch (...) {
      rollback();
      throw;
    }
  }

  // The version in annals_schema, or nullopt when there is no such table.
  std::optional<int> schema_version() {
    Result r = exec_sql("SELECT to_regclass('annals_schema') IS NOT NULL");
    if (text(r.get(), 0, 0) != "t") return std::nullopt;
    Result v = exec_sql("SELECT version FROM annals_schema");
    if (PQntuples(v.get()) != 1)
      throw StoreError(StoreFailure::corrupt, database() + " has a damaged annals_schema table (no version row)");
    return int32(v.get(), 0, 0);
  }

  void refuse_foreign_tables() {
    Result r = exec_sql(
      "SELECT count(*), min(schemaname || '.' || tablename) FROM pg_tables"
      " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')");
    const std::int64_t n = int64(r.get(), 0, 0);
    if (n > 0)
      throw StoreError(StoreFailure::incompatible,
                       database() + " holds " + std::to_string(n) + " table(s) of another application (such as '"
                         + text(r.get(), 0, 1) + "') and no annals schema; annals leaves it untouched: give annals"
                           " a database of its own (CREATE DATABASE)");
  }

  // Runs f; on a failure turns it into a StoreError. A session found gone
  // at the operation's first statement (the server restarted, or ended an
  // idle session) ran nothing of it: f runs once more on a new session. A
  // session lost later fails the operation; the next one reconnects.
  template <class F>
  void guarded(const std::string& doing, F&& f) {
    for (int attempt = 0;; ++attempt) {
      ensure_connected(doing);
      const std::int64_t before = statements_done_;
      try {
        f();
        return;
      } catch (const ServerError& e) {
        throw store_error(e, doing);
      } catch (const StoreError&) {
        if (!lost_ || statements_done_ != before || attempt > 0) throw;
      }
    }
  }

  // f inside BEGIN ... COMMIT. A failure before COMMIT rolls back: nothing
  // was written. A COMMIT that got no answer (the session broke) may have
  // happened: outcome unknown.
  template <class F>
  void transaction(const std::string& doing, F&& f) {
    guarded(doing, [&] {
      exec_sql("BEGIN");
      try {
        f();
      } catch (...) {
        rollback();
        throw;
      }
      Result r(PQexec(conn_.get(), "COMMIT"));
      const auto status = PQresultStatus(r.get());
      if (status == PGRES_COMMAND_OK && std::strcmp(PQcmdStatus(r.get()), "COMMIT") == 0) return;
      if (PQstatus(conn_.get()) != CONNECTION_OK) {
        const std::string why = server_says(PQerrorMessage(conn_.get()));
        conn_.reset();
        throw StoreError(StoreFailure::unavailable,
                         "lost the connection to " + database() + " while committing after " + doing + " (" + why
                           + "); the outcome is unknown: the appends may have been written; retry with the same"
                             " idempotency key to find out",
                         StoreError::Outcome::unknown);
      }
      rollback();
      if (status == PGRES_COMMAND_OK)  // "ROLLBACK": the transaction had failed
        throw StoreError(StoreFailure::unavailable, database() + " rolled back the transaction while " + doing);
      throw store_error(server_error(r.get()), "committing after " + doing);
    });
  }

  void rollback() {
    if (conn_ && PQstatus(conn_.get()) == CONNECTION_OK && PQtransactionStatus(conn_.get()) != PQTRANS_IDLE)
      Result(PQexec(conn_.get(), "ROLLBACK"));
  }

  void ensure_connected(const std::string& doing) {
    if (conn_ && PQstatus(conn_.get()) == CONNECTION_OK) return;
    connect(doing);
  }

  ServerError server_error(PGresult* r) const {
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    const char* primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    return ServerError{state ? state : "", primary ? primary : server_says(PQerrorMessage(conn_.get()))};
  }

  // Throws ServerError for a refused statement; StoreError when the session
  // is gone (it is dropped, the next operation reconnects).
  void check(PGresult* r, const std::string& what) {
    const auto status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    lost_ = false;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      ++statements_done_;
      return;
    }
    if (PQstatus(conn_.get()) != CONNECTION_OK) {
      const std::string why = server_says(PQerrorMessage(conn_.get()));
      conn_.reset();
      lost_ = true;
      throw StoreError(StoreFailure::unavailable, "lost the connection to " + database() + " while " + what + " ("
                                                    + why + "); nothing of it was written; annals reconnects on the"
                                                      " next operation");
    }
    throw server_error(r);
  }

  Result exec_sql(const std::string& sql) {
    Result r(PQexec(conn_.get(), sql.c_str()));
    check(r.get(), "running " + sql.substr(0, 40));
    return r;
  }

  Result run_sql(const std::string& sql, const std::vector<std::string>& params) {
    refuse_nul(params);
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    Result r(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                          nullptr, 0));
    check(r.get(), "running a query");
    return r;
  }

  // libpq takes text parameters as C strings: one with a NUL would be cut
  // there and stored, or looked up, as another value. PostgreSQL cannot hold
  // a NUL in text anyway; refuse it as the server refuses other bad text.
  static void refuse_nul(const std::vector<std::string>& params) {
    for (const auto& p : params)
      if (p.find('\0') != std::string::npos)
        throw ServerError{"22021", "a text value holds a NUL character, which PostgreSQL cannot store"};
  }

  Result run(const char* statement, const std::vector<std::string>& params) {
    refuse_nul(params);
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    Result r(PQexecPrepared(conn_.get(), statement, static_cast<int>(values.size()), values.data(), nullptr, nullptr,
                            0));
    check(r.get(), std::string("running ") + statement);
    return r;
  }

  static std::int64_t affected(PGresult* r) {
    const char* n = PQcmdTuples(r);
    return (n && *n) ? std::stoll(n) : 0;
  }

  StoreError store_error(const ServerError& e, const std::string& doing) const {
    const std::string tail = " while " + doing + " (" + e.message + ")";
    const std::string cls = e.sqlstate.substr(0, 2);
    if (e.sqlstate == "55P03" || e.sqlstate == "40P01" || e.sqlstate == "40001")
      return StoreError(StoreFailure::locked, database() + " is locked by another writer; gave up after "
                                                + std::to_string(opts_.lock_timeout.count()) + " ms" + tail);
    if (e.sqlstate == "25006")
      return StoreError(StoreFailure::read_only, database() + " is read-only" + tail);
    if (e.sqlstate == "53100")
      return StoreError(StoreFailure::full, database() + " is full (the server's disk)" + tail);
    if (cls == "42")
      return StoreError(StoreFailure::incompatible,
                        database() + " does not have the tables annals expects (changed or dropped?)" + tail);
    if (cls == "22" || cls == "XX")
      return StoreError(StoreFailure::corrupt, database() + " refused or could not read stored data" + tail);
    return StoreError(StoreFailure::unavailable, database() + " failed" + tail);
  }

  std::vector<std::string> names(const char* statement, const std::string& doing) {
    std::vector<std::string> out;
    guarded(doing, [&] {
      Result r = run(statement, {});
      for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back(text(r.get(), i, 0));
    });
    return out;
  }

  // Columns from `first`: type, schema_version, data, metadata, recorded_at.
  void fill(Event& e, PGresult* r, int row, int first) {
    e.type = text(r, row, first);
    e.schema_version = int32(r, row, first + 1);
    const std::string what = "event " + std::to_string(e.position) + " (" + e.stream.to_string() + ")";
    e.data = parse_stored(text(r, row, first + 2), "the data of " + what);
    e.metadata = EventMetadata::from_json(parse_stored(text(r, row, first + 3), "the metadata of " + what));
    e.metadata.timestamp_us = int64(r, row, first + 4);
  }

  std::int64_t current_version(const StreamId& s) { return int64(run("version", {s.aggregate, s.id}).get(), 0, 0); }

  std::optional<IdempotencyRecord> lookup_key(const std::string& key) {
    Result r = run("find_key", {key});
    if (PQntuples(r.get()) == 0) return std::nullopt;
    IdempotencyRecord rec;
    rec.key = key;
    rec.stream = {text(r.get(), 0, 0), text(r.get(), 0, 1)};
    rec.fingerprint = text(r.get(), 0, 2);
    auto result =
      CommandResult::from_json(parse_stored(text(r.get(), 0, 3), "the result of idempotency key '" + key + "'"));
    if (!result) throw StoreError(StoreFailure::corrupt, result.error().message);
    rec.result = std::move(*result);
    return rec;
  }

  void insert_audit(const AuditRecord& rec) {
    run("insert_audit", {std::to_string(rec.at_us ? rec.at_us : now_us()), rec.principal, rec.correlation_id,
                         rec.command_id, rec.stream.aggregate, rec.stream.id, rec.command, rec.outcome, rec.code,
                         rec.message, std::to_string(rec.position)});
  }

  static Error unstorable(const AppendRequest& req, const ServerError& e) {
    return Error{errc::invalid_command, "the events for " + quoted(req.stream.to_string())
                                          + " cannot be stored in PostgreSQL: " + e.message
                                          + " (names and data must be UTF-8 text without NUL characters)"};
  }

  // One append inside the batch transaction, with the counter row held:
  // the shared rules decide first; a savepoint undoes a partial write if an
  // insert still fails (the append fails alone). `head` is the last position
  // handed out; it moves only when the append is written.
  AppendOutcome append_one(const AppendRequest& req, std::int64_t now, std::int64_t& head) {
    // The rules' lookups send the stream and key as text: a NUL in them is
    // refused before anything reaches the server (run), for this append alone.
    std::optional<append_rules::AppendVerdict> checked;
    try {
      checked.emplace(append_rules::check_append(
        req, opts_.max_event_bytes, [&](const std::string& key) { return lookup_key(key); },
        [&](const StreamId& s) { return current_version(s); }));
    } catch (const ServerError& e) {
      if (e.sqlstate == "22021") return unstorable(req, e);
      throw;
    }
    auto& verdict = *checked;
    if (verdict.decided) return std::move(*verdict.decided);
    const std::vector<std::string>& bodies = verdict.checked.bodies;
    const EventMetadata md = append_rules::commit_metadata(req, now);
    json::object mdj = md.to_json();
    mdj.erase("timestamp");  // stored in its own column
    const std::string metadata = json::serialize(mdj);
    const std::string recorded_at = std::to_string(now);

    AppendResult res;
    res.version = verdict.checked.current_version;
    std::int64_t position = head;
    exec_sql("SAVEPOINT append_one");
    try {
      for (std::size_t i = 0; i < req.events.size(); ++i) {
        const auto& ev = req.events[i];
        ++position;
        ++res.version;
        run("insert_event", {std::to_string(position), req.stream.aggregate, req.stream.id,
                             std::to_string(res.version), ev.type, std::to_string(ev.schema_version), bodies[i],
                             metadata, recorded_at});
        res.events.push_back(append_rules::committed_event(req, i, bodies[i], res.version, position, md));
      }
      if (req.idempotency_key)
        run("insert_key", {*req.idempotency_key, req.stream.aggregate, req.stream.id, req.fingerprint,
                           json::serialize(append_rules::key_record(req, res).result.to_json()), recorded_at});
      if (req.audit) insert_audit(append_rules::accepted_audit(*req.audit, res, now));
      exec_sql("RELEASE SAVEPOINT append_one");
    } catch (const ServerError& e) {
      exec_sql("ROLLBACK TO SAVEPOINT append_one");
      exec_sql("RELEASE SAVEPOINT append_one");
      // Another writer that does not take the counter row (not annals) got
      // there first.
      if (e.sqlstate == "23505") return append_rules::changed_during_append(req.stream, e.message);
      // Text PostgreSQL cannot store (a NUL character, bytes that are not
      // UTF-8) fails this append alone.
      if (e.sqlstate == "22021" || e.sqlstate == "22P05" || e.sqlstate == "22P02") return unstorable(req, e);
      throw;
    }
    head = position;
    return res;
  }

  PostgresStoreOptions opts_;
  Target target_;
  Conn conn_;
  std::int64_t statements_done_ = 0;  // statements that succeeded on any session (see guarded)
  bool lost_ = false;                 // the last statement found the session gone
  bool listening_ = false;            // this session has run LISTEN annals_log (await_commit_notice)
};

class PostgresProvider final : public EventStoreProvider {
public:
  explicit PostgresProvider(PostgresStoreOptions o) : opts_(std::move(o)) {}
  std::unique_ptr<EventStore> connect() const override { return std::make_unique<PostgresEventStore>(opts_); }
  std::string describe() const override {
    try {
      return describe_postgres_url(opts_.url);
    } catch (const StoreError&) {
      return "postgresql:(unreadable URL)";
    }
  }

private:
  PostgresStoreOptions opts_;
};

} // namespace

std::shared_ptr<EventStoreProvider> postgres_store(PostgresStoreOptions options) {
  return std::make_shared<PostgresProvider>(std::move(options));
}

std::unique_ptr<ClusterCoordination> postgres_cluster_coordination(PostgresStoreOptions options) {
  return std::make_unique<PostgresEventStore>(std::move(options));
}

int postgres_schema_version() { return latest_version(); }

std::string describe_postgres_url(const std::string& url) { return parse_target(url).url(); }

} // namespace annals
