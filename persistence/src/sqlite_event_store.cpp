// The SQLite store: opening (identity, migration, pragmas), prepared
// statements, aggregate snapshots, projection state and the audit trail.
// The event log's methods are in sqlite_event_log.cpp.
#include "sqlite_store_impl.hpp"

#include "sqlite_schema.hpp"
#include "annals/json_parse.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

namespace annals {

namespace detail {

StoreError to_store_error(const SQLite::Exception& e, const std::string& path,
                          const std::string& doing, std::chrono::milliseconds busy) {
  const std::string file = "'" + path + "'";
  const std::string tail = " while " + doing + " (" + e.what() + ")";
  switch (e.getErrorCode() & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return StoreError(StoreFailure::locked, "database " + file + " is locked by another writer; gave up after "
                                                + std::to_string(busy.count()) + " ms" + tail);
    case SQLITE_READONLY:
      return StoreError(StoreFailure::read_only, "database " + file + " is read-only" + tail);
    case SQLITE_FULL:
      return StoreError(StoreFailure::full, "database " + file + " is full (disk or size limit)" + tail);
    case SQLITE_NOTADB:
      return StoreError(StoreFailure::corrupt, "file " + file + " is not an SQLite database" + tail);
    case SQLITE_CORRUPT:
      return StoreError(StoreFailure::corrupt, "database " + file + " is damaged" + tail);
    case SQLITE_CANTOPEN:
      return StoreError(StoreFailure::unavailable, "cannot open database " + file + tail);
    default:
      return StoreError(StoreFailure::unavailable, "database " + file + " failed" + tail);
  }
}

namespace {

std::atomic<std::int64_t> lock_waits{0};

// SQLite's own busy-timeout schedule (sqliteDefaultBusyCallback), plus a
// count of the waits that began, so contention between writers can be seen
// (sqlite_lock_waits()). `timeout` points at the connection's busy_timeout.
int wait_for_lock(void* timeout, int attempt) {
  static constexpr int delays[] = {1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100};
  static constexpr int n = static_cast<int>(sizeof delays / sizeof delays[0]);
  const auto limit = static_cast<std::chrono::milliseconds*>(timeout)->count();
  if (attempt == 0) lock_waits.fetch_add(1, std::memory_order_relaxed);
  long long waited = 0;
  for (int i = 0; i < std::min(attempt, n); ++i) waited += delays[i];
  if (attempt >= n) waited += static_cast<long long>(attempt - n) * delays[n - 1];
  long long delay = delays[std::min(attempt, n - 1)];
  if (waited + delay > limit) delay = limit - waited;
  if (delay <= 0) return 0;
  sqlite3_sleep(static_cast<int>(delay));
  return 1;
}

// "file:///abs/path?mode=ro&immutable=1", the path percent-encoded where a URI needs it.
std::string immutable_uri(const std::string& path) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out = "file://";
  for (unsigned char c : std::filesystem::absolute(path).lexically_normal().string()) {
    if (c == '%' || c == '?' || c == '#' || c < 0x20 || c == 0x7F) {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0x0F];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "?mode=ro&immutable=1";
}

} // namespace

json::value parse_stored(const std::string& text, const std::string& what) {
  json::error_code ec;
  json::value v = parse_json(text, ec);  // doubles read back exactly as written
  if (ec) throw StoreError(StoreFailure::corrupt, what + " is not valid JSON: " + ec.message());
  return v;
}

SqliteEventStore::SqliteEventStore(SqliteStoreOptions opts) : opts_(std::move(opts)) {
  // A writer holds the store's ownership lock (shared) before it touches the
  // file: a tool holding it exclusive may be deleting or rewriting it.
  std::optional<StoreError> no_lock_file;
  if (!opts_.read_only) {
    try {
      lock_ = StoreLock::acquire(opts_.path, StoreLockMode::shared);
    } catch (const StoreError& e) {
      if (e.kind() != StoreFailure::read_only) throw;
      no_lock_file = e;  // fine if the store turns out to be read-only too
    }
  }
  guard("opening the store", [&] {
    std::string filename = opts_.path;
    const int flags = opts_.read_only ? read_only_open(filename) : (SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db_ = std::make_unique<SQLite::Database>(filename, flags, static_cast<int>(opts_.busy_timeout.count()), opts_.vfs);
    sqlite3_busy_handler(db_->getHandle(), &wait_for_lock, &opts_.busy_timeout);
    if (opts_.read_only) db_->exec("PRAGMA query_only=ON");  // a connection that may write reads only
    // The first statement is where a non-database file shows itself.
    db_->execAndGet("PRAGMA application_id");
    read_only_ = opts_.read_only || sqlite3_db_readonly(db_->getHandle(), "main") == 1;
    if (read_only_ && read_only_reason_.empty()) {
      read_only_reason_ = sqlite_unwritable_reason(opts_.path);
      if (read_only_reason_.empty()) read_only_reason_ = "SQLite opened it read-only";
    }
    if (!read_only_ && no_lock_file) throw *no_lock_file;
    if (read_only_) {
      check_readable_schema();
    } else {
      // Identify the file before changing anything in it: switching the
      // journal mode would already rewrite a foreign file's header.
      sqlite_schema::check_identity(*db_, opts_.path.c_str());
      require_wal(db_->execAndGet("PRAGMA journal_mode=WAL").getString());
      sqlite_schema::migrate(*db_, opts_.path.c_str());
      schema_version_ = sqlite_schema::latest_version();
    }
    db_->exec(opts_.durability == Durability::full ? "PRAGMA synchronous=FULL"
                                                   : "PRAGMA synchronous=NORMAL");
    if (opts_.max_size_bytes > 0) {
      std::int64_t page = db_->execAndGet("PRAGMA page_size").getInt64();
      std::int64_t pages = std::max<std::int64_t>(1, opts_.max_size_bytes / page);
      db_->execAndGet("PRAGMA max_page_count=" + std::to_string(pages));
    }
    prepare();
  });
}

// A read-only connection of SQLite (SQLITE_OPEN_READONLY) on a WAL file
// creates the -wal and -shm files if they are missing and cannot remove them
// when it closes: they stay behind, owned by whoever ran the tool, and a
// writer of another user may then fail on them. Where there are none and the
// directory is not writable, it cannot open the file at all ("attempt to
// write a readonly database"). So:
// - where this process may write: a read-write connection with query_only,
//   which removes those files when it is the last to close, like any writer;
// - where it may not and no -wal is there: the file as it is (immutable=1:
//   no locks, nothing created; with no -wal nobody is writing it, and there
//   is no log to miss);
// - where it may not and a -wal is there with its -shm (a writer of another
//   user has it open): read through them, as SQLite does, creating nothing;
// - a -wal without its -shm cannot be read without creating one: refused.
int SqliteEventStore::read_only_open(std::string& filename) {
  namespace fs = std::filesystem;
  const std::string cannot_write = sqlite_unwritable_reason(opts_.path);
  if (cannot_write.empty()) {
    read_only_reason_ = "opened read-only";
    return SQLite::OPEN_READWRITE;
  }
  read_only_reason_ = cannot_write;
  std::error_code ec;
  const std::string wal_path = opts_.path + "-wal";
  const bool wal = fs::exists(wal_path, ec);
  const bool wal_has_frames = wal && (fs::file_size(wal_path, ec) > 0 || ec);
  const bool shm = fs::exists(opts_.path + "-shm", ec);
  if (wal && shm) return SQLite::OPEN_READONLY;
  if (!wal_has_frames) {
    filename = immutable_uri(opts_.path);
    return SQLite::OPEN_READONLY | SQLite::OPEN_URI;
  }
  throw StoreError(StoreFailure::read_only,
                   "database '" + opts_.path + "' has a write-ahead log ('" + wal_path
                     + "') that cannot be read without creating its '-shm' file, and " + cannot_write
                     + ": open the store once as a user who may write it (any annals tool folds the log in), "
                       "then try again");
}

// SQLite answers PRAGMA journal_mode=WAL with the mode it actually set, and
// keeps the old one without an error where WAL cannot work: an in-memory
// database, a VFS or filesystem without shared memory. The store relies on
// WAL (readers on their own connections while the journal writes), so it
// refuses to run without it.
void SqliteEventStore::require_wal(const std::string& mode) const {
  std::string lower = mode;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "wal") return;
  throw StoreError(StoreFailure::unavailable,
                   "database '" + opts_.path + "' cannot use WAL journal mode (SQLite kept journal mode '" + mode
                     + "'); annals needs WAL so that readers work while the journal writes: use a database file"
                       " on a local filesystem with shared memory support (not an in-memory database or a"
                       " network share)");
}

// A store opened without write access (asked for, or the file cannot be
// written) is never created, initialized or migrated: it must already be
// an annals store of a schema version this build reads as it is.
void SqliteEventStore::check_readable_schema() {
  sqlite_schema::check_identity(*db_, opts_.path.c_str());  // another application's file, a newer version
  int app = db_->execAndGet("PRAGMA application_id").getInt();
  int ver = db_->execAndGet("PRAGMA user_version").getInt();
  if (app == sqlite_schema::application_id && ver >= sqlite_schema::oldest_readable_version()) {
    schema_version_ = ver;
    return;
  }
  const std::string file = "database '" + opts_.path + "'";
  const std::string why = opts_.read_only ? "opened read-only, so it was not " : "it is read-only, so it cannot be ";
  if (app == sqlite_schema::application_id)
    throw StoreError(StoreFailure::incompatible,
                     file + " has schema version " + std::to_string(ver) + "; this build reads versions "
                       + std::to_string(sqlite_schema::oldest_readable_version()) + " to "
                       + std::to_string(sqlite_schema::latest_version()) + " without migrating them (" + why
                       + "migrated)");
  throw StoreError(opts_.read_only ? StoreFailure::incompatible : StoreFailure::read_only,
                   file + " is not an initialized annals store (" + why + "initialized)");
}

void SqliteEventStore::prepare() {
  auto& db = *db_;
  insert_event_ = std::make_unique<SQLite::Statement>(db,
    "INSERT INTO events(stream_type, stream_id, version, type, schema_version, data, metadata, recorded_at)"
    " VALUES(?,?,?,?,?,?,?,?)");
  version_ = std::make_unique<SQLite::Statement>(db,
    "SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_type=? AND stream_id=?");
  read_stream_ = std::make_unique<SQLite::Statement>(db,
    "SELECT position, version, type, schema_version, data, metadata, recorded_at FROM events"
    " WHERE stream_type=? AND stream_id=? AND version>=? ORDER BY version LIMIT ?");
  read_all_ = std::make_unique<SQLite::Statement>(db,
    "SELECT position, stream_type, stream_id, version, type, schema_version, data, metadata, recorded_at"
    " FROM events WHERE position>=? ORDER BY position LIMIT ?");
  head_ = std::make_unique<SQLite::Statement>(db, "SELECT COALESCE(MAX(position), 0) FROM events");
  data_version_ = std::make_unique<SQLite::Statement>(db, "PRAGMA data_version");
  load_snapshot_ = std::make_unique<SQLite::Statement>(db,
    "SELECT version, snapshot_version, state, taken_at FROM snapshots WHERE stream_type=? AND stream_id=?");
  save_snapshot_ = std::make_unique<SQLite::Statement>(db,
    "INSERT INTO snapshots(stream_type, stream_id, version, snapshot_version, state, taken_at)"
    " VALUES(?,?,?,?,?,?) ON CONFLICT(stream_type, stream_id) DO UPDATE SET"
    " version=excluded.version, snapshot_version=excluded.snapshot_version,"
    " state=excluded.state, taken_at=excluded.taken_at"
    " WHERE excluded.version >= snapshots.version OR excluded.snapshot_version <> snapshots.snapshot_version");
  find_key_ = std::make_unique<SQLite::Statement>(db,
    "SELECT stream_type, stream_id, fingerprint, result FROM idempotency_keys WHERE key=?");
  insert_key_ = std::make_unique<SQLite::Statement>(db,
    "INSERT INTO idempotency_keys(key, stream_type, stream_id, fingerprint, result, created_at)"
    " VALUES(?,?,?,?,?,?)");
  insert_audit_ = std::make_unique<SQLite::Statement>(db,
    "INSERT INTO command_audit(at, principal, correlation_id, command_id, aggregate, aggregate_id, command,"
    " outcome, code, message, position) VALUES(?,?,?,?,?,?,?,?,?,?,?)");
  read_audit_ = std::make_unique<SQLite::Statement>(db,
    "SELECT id, at, principal, correlation_id, command_id, aggregate, aggregate_id, command, outcome, code,"
    " message, position FROM command_audit WHERE id>=? ORDER BY id LIMIT ?");
  park_event_ = std::make_unique<SQLite::Statement>(db,
    "INSERT INTO dead_letters(projection, position, stream_type, stream_id, event_type, error, attempts, parked_at)"
    " VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(projection, position) DO UPDATE SET"
    " stream_type=excluded.stream_type, stream_id=excluded.stream_id, event_type=excluded.event_type,"
    " error=excluded.error, attempts=excluded.attempts, parked_at=excluded.parked_at");
  dead_letters_ = std::make_unique<SQLite::Statement>(db,
    "SELECT projection, position, stream_type, stream_id, event_type, error, attempts, parked_at"
    " FROM dead_letters WHERE projection=? ORDER BY position");
  all_dead_letters_ = std::make_unique<SQLite::Statement>(db,
    "SELECT projection, position, stream_type, stream_id, event_type, error, attempts, parked_at"
    " FROM dead_letters ORDER BY projection, position");
  remove_dead_letter_ = std::make_unique<SQLite::Statement>(db,
    "DELETE FROM dead_letters WHERE projection=? AND position=?");
  load_projection_snapshot_ = std::make_unique<SQLite::Statement>(db,
    "SELECT position, snapshot_version, model, taken_at FROM projection_snapshots WHERE projection=?");
  save_projection_snapshot_ = std::make_unique<SQLite::Statement>(db,
    "INSERT INTO projection_snapshots(projection, position, snapshot_version, model, taken_at)"
    " VALUES(?,?,?,?,?) ON CONFLICT(projection) DO UPDATE SET"
    " position=excluded.position, snapshot_version=excluded.snapshot_version,"
    " model=excluded.model, taken_at=excluded.taken_at"
    " WHERE excluded.position >= projection_snapshots.position"
    " OR excluded.snapshot_version <> projection_snapshots.snapshot_version");
  replace_projection_snapshot_ = std::make_unique<SQLite::Statement>(db,
    "INSERT OR REPLACE INTO projection_snapshots(projection, position, snapshot_version, model, taken_at)"
    " VALUES(?,?,?,?,?)");
  // The distinct stream types by the stream index, one seek per type, not a scan of the log.
  aggregate_types_ = std::make_unique<SQLite::Statement>(db,
    "WITH RECURSIVE t(name) AS (SELECT MIN(stream_type) FROM events"
    " UNION ALL SELECT (SELECT MIN(stream_type) FROM events WHERE stream_type > t.name) FROM t"
    " WHERE t.name IS NOT NULL) SELECT name FROM t WHERE name IS NOT NULL");
  event_types_ = std::make_unique<SQLite::Statement>(db, "SELECT DISTINCT type FROM events ORDER BY type");
  if (schema_version_ >= 4) {
    read_users_ = std::make_unique<SQLite::Statement>(db, "SELECT kind, name FROM store_users ORDER BY kind, name");
    insert_user_ = std::make_unique<SQLite::Statement>(db,
      "INSERT OR IGNORE INTO store_users(kind, name, recorded_at) VALUES(?,?,?)");
  }
}

// StoreUsage

namespace {
constexpr const char* aggregate_kind = "aggregate";
constexpr const char* projection_kind = "projection";
} // namespace

std::optional<StoreUsers> SqliteEventStore::recorded_users() {
  if (!read_users_) return std::nullopt;  // a version 3 store, read as it is
  StoreUsers out;
  guard("reading what uses the store", [&] {
    auto& q = *read_users_;
    ResetOnExit r{q};
    while (q.executeStep()) {
      const std::string kind = q.getColumn(0).getString();
      if (kind == aggregate_kind) out.aggregates.insert(q.getColumn(1).getString());
      else if (kind == projection_kind) out.projections.insert(q.getColumn(1).getString());
    }
  });
  return out;
}

void SqliteEventStore::record_users(const StoreUsers& users) {
  if (read_only_ || !insert_user_) return;  // a record for tools: nothing to refuse
  // A runtime mostly registers what is recorded already: write only what is new.
  const auto known = recorded_users();
  std::vector<std::pair<const char*, std::string>> missing;
  for (const auto& a : users.aggregates)
    if (!known->aggregates.count(a)) missing.emplace_back(aggregate_kind, a);
  for (const auto& p : users.projections)
    if (!known->projections.count(p)) missing.emplace_back(projection_kind, p);
  if (missing.empty()) return;
  guard("recording what uses the store", [&] {
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    for (const auto& [kind, name] : missing) {
      auto& q = *insert_user_;
      ResetOnExit r{q};
      q.bind(1, kind);
      q.bind(2, name);
      q.bind(3, static_cast<std::int64_t>(now_us()));
      q.exec();
    }
    tx.commit();
  });
}

// Writes to a read-only store fail with a sentence saying what was refused and why.
void SqliteEventStore::require_writable(const char* what) const {
  if (read_only_)
    throw StoreError(StoreFailure::read_only,
                     "database '" + opts_.path + "' is read-only (" + read_only_reason_ + "); " + what);
}

// AggregateSnapshotStore

std::optional<Snapshot> SqliteEventStore::load_snapshot(const StreamId& s) {
  std::optional<Snapshot> out;
  guard("loading the snapshot of " + s.to_string(), [&] {
    auto& q = *load_snapshot_;
    ResetOnExit r{q};
    q.bind(1, s.aggregate);
    q.bind(2, s.id);
    if (!q.executeStep()) return;
    Snapshot snap;
    snap.stream = s;
    snap.version = q.getColumn(0).getInt64();
    snap.snapshot_version = q.getColumn(1).getInt();
    snap.state = parse_stored(q.getColumn(2).getString(), "the snapshot of " + s.to_string());
    snap.taken_at_us = q.getColumn(3).getInt64();
    out = std::move(snap);
  });
  return out;
}

void SqliteEventStore::save_snapshot(const Snapshot& snap) {
  if (read_only_) return;  // a snapshot is an optimisation; never an error
  guard("saving the snapshot of " + snap.stream.to_string(), [&] {
    auto& q = *save_snapshot_;
    ResetOnExit r{q};
    q.bind(1, snap.stream.aggregate);
    q.bind(2, snap.stream.id);
    q.bind(3, static_cast<std::int64_t>(snap.version));
    q.bind(4, snap.snapshot_version);
    q.bind(5, json::serialize(snap.state));
    q.bind(6, static_cast<std::int64_t>(snap.taken_at_us ? snap.taken_at_us : now_us()));
    q.exec();
  });
}

// ProjectionStateStore

void SqliteEventStore::park_event(const DeadLetter& letter) {
  require_writable("cannot park an event");
  guard("parking event " + std::to_string(letter.position) + " for projection '" + letter.projection + "'",
        [&] {
          auto& q = *park_event_;
          ResetOnExit r{q};
          q.bind(1, letter.projection);
          q.bind(2, static_cast<std::int64_t>(letter.position));
          q.bind(3, letter.stream.aggregate);
          q.bind(4, letter.stream.id);
          q.bind(5, letter.event_type);
          q.bind(6, letter.error);
          q.bind(7, letter.attempts);
          q.bind(8, static_cast<std::int64_t>(letter.parked_at_us ? letter.parked_at_us : now_us()));
          q.exec();
        });
}

std::vector<DeadLetter> SqliteEventStore::dead_letters(const std::string& projection) {
  std::vector<DeadLetter> out;
  guard(projection.empty() ? std::string("listing parked events")
                           : "listing parked events of projection '" + projection + "'",
        [&] {
          auto& q = projection.empty() ? *all_dead_letters_ : *dead_letters_;
          ResetOnExit r{q};
          if (!projection.empty()) q.bind(1, projection);
          while (q.executeStep()) {
            DeadLetter d;
            d.projection = q.getColumn(0).getString();
            d.position = q.getColumn(1).getInt64();
            d.stream.aggregate = q.getColumn(2).getString();
            d.stream.id = q.getColumn(3).getString();
            d.event_type = q.getColumn(4).getString();
            d.error = q.getColumn(5).getString();
            d.attempts = q.getColumn(6).getInt();
            d.parked_at_us = q.getColumn(7).getInt64();
            out.push_back(std::move(d));
          }
        });
  return out;
}

bool SqliteEventStore::remove_dead_letter(const std::string& projection, std::int64_t position) {
  require_writable("cannot remove a parked event");
  bool removed = false;
  guard("removing parked event " + std::to_string(position) + " of projection '" + projection + "'", [&] {
    auto& q = *remove_dead_letter_;
    ResetOnExit r{q};
    q.bind(1, projection);
    q.bind(2, static_cast<std::int64_t>(position));
    removed = q.exec() > 0;
  });
  return removed;
}

bool SqliteEventStore::unpark_retried(const std::string& projection, std::int64_t position,
                                      const std::optional<ProjectionSnapshot>& snapshot) {
  require_writable("cannot remove a parked event");
  bool removed = false;
  guard("removing retried event " + std::to_string(position) + " of projection '" + projection
          + "' from the dead letters",
        [&] {
          SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
          {
            auto& q = *remove_dead_letter_;
            ResetOnExit r{q};
            q.bind(1, projection);
            q.bind(2, static_cast<std::int64_t>(position));
            removed = q.exec() > 0;
          }
          if (!removed) return;  // the transaction rolls back: nothing written
          if (snapshot) {
            auto& q = *replace_projection_snapshot_;
            ResetOnExit r{q};
            q.bind(1, snapshot->projection);
            q.bind(2, static_cast<std::int64_t>(snapshot->position));
            q.bind(3, snapshot->snapshot_version);
            q.bind(4, json::serialize(snapshot->model));
            q.bind(5, static_cast<std::int64_t>(snapshot->taken_at_us ? snapshot->taken_at_us : now_us()));
            q.exec();
          }
          tx.commit();
        });
  return removed;
}

std::optional<ProjectionSnapshot> SqliteEventStore::load_projection_snapshot(const std::string& projection) {
  std::optional<ProjectionSnapshot> out;
  guard("loading the snapshot of projection '" + projection + "'", [&] {
    auto& q = *load_projection_snapshot_;
    ResetOnExit r{q};
    q.bind(1, projection);
    if (!q.executeStep()) return;
    ProjectionSnapshot snap;
    snap.projection = projection;
    snap.position = q.getColumn(0).getInt64();
    snap.snapshot_version = q.getColumn(1).getInt();
    snap.model = parse_stored(q.getColumn(2).getString(), "the snapshot of projection '" + projection + "'");
    snap.taken_at_us = q.getColumn(3).getInt64();
    out = std::move(snap);
  });
  return out;
}

void SqliteEventStore::save_projection_snapshot(const ProjectionSnapshot& snap) {
  require_writable("cannot save a projection snapshot");
  guard("saving the snapshot of projection '" + snap.projection + "'", [&] {
    auto& q = *save_projection_snapshot_;
    ResetOnExit r{q};
    q.bind(1, snap.projection);
    q.bind(2, static_cast<std::int64_t>(snap.position));
    q.bind(3, snap.snapshot_version);
    q.bind(4, json::serialize(snap.model));
    q.bind(5, static_cast<std::int64_t>(snap.taken_at_us ? snap.taken_at_us : now_us()));
    q.exec();
  });
}

// AuditTrail

void SqliteEventStore::append_audit(const std::vector<AuditRecord>& records) {
  if (records.empty()) return;
  require_writable("cannot write the audit trail");
  guard("writing " + std::to_string(records.size()) + " audit record(s)", [&] {
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    for (const auto& rec : records) insert_audit(rec);
    tx.commit();
  });
}

std::vector<AuditRecord> SqliteEventStore::audit_log(std::int64_t from_id, std::size_t max_count) {
  std::vector<AuditRecord> out;
  guard("reading the audit trail", [&] {
    auto& q = *read_audit_;
    ResetOnExit r{q};
    q.bind(1, static_cast<std::int64_t>(from_id));
    q.bind(2, static_cast<std::int64_t>(max_count));
    while (q.executeStep()) {
      AuditRecord rec;
      rec.id = q.getColumn(0).getInt64();
      rec.at_us = q.getColumn(1).getInt64();
      rec.principal = q.getColumn(2).getString();
      rec.correlation_id = q.getColumn(3).getString();
      rec.command_id = q.getColumn(4).getString();
      rec.stream = {q.getColumn(5).getString(), q.getColumn(6).getString()};
      rec.command = q.getColumn(7).getString();
      rec.outcome = q.getColumn(8).getString();
      rec.code = q.getColumn(9).getString();
      rec.message = q.getColumn(10).getString();
      rec.position = q.getColumn(11).getInt64();
      out.push_back(std::move(rec));
    }
  });
  return out;
}

void SqliteEventStore::insert_audit(const AuditRecord& rec) {
  auto& q = *insert_audit_;
  ResetOnExit r{q};
  q.bind(1, static_cast<std::int64_t>(rec.at_us ? rec.at_us : now_us()));
  q.bind(2, rec.principal);
  q.bind(3, rec.correlation_id);
  q.bind(4, rec.command_id);
  q.bind(5, rec.stream.aggregate);
  q.bind(6, rec.stream.id);
  q.bind(7, rec.command);
  q.bind(8, rec.outcome);
  q.bind(9, rec.code);
  q.bind(10, rec.message);
  q.bind(11, static_cast<std::int64_t>(rec.position));
  q.exec();
}


} // namespace detail

namespace {

class SqliteProvider final : public EventStoreProvider {
public:
  explicit SqliteProvider(SqliteStoreOptions o) : opts_(std::move(o)) {}
  std::unique_ptr<EventStore> connect() const override { return open_sqlite_store(opts_); }
  std::string describe() const override { return "sqlite:" + opts_.path; }

private:
  SqliteStoreOptions opts_;
};

} // namespace

std::unique_ptr<EventStore> open_sqlite_store(const SqliteStoreOptions& options) {
  return std::make_unique<detail::SqliteEventStore>(options);
}

std::shared_ptr<EventStoreProvider> sqlite_store(SqliteStoreOptions options) {
  return std::make_shared<SqliteProvider>(std::move(options));
}

std::int64_t sqlite_lock_waits() { return detail::lock_waits.load(std::memory_order_relaxed); }

std::string sqlite_unwritable_reason(const std::string& path) {
  namespace fs = std::filesystem;
  auto why = [](int e, const std::string& what) {
    if (e == EROFS) return std::string("its filesystem is mounted read-only");
    return what + ": " + std::strerror(e);
  };
  std::error_code ec;
  if (fs::exists(path, ec) && ::access(path.c_str(), W_OK) != 0) {
    const int e = errno;
    return why(e, "this user may not write it");
  }
  // The -wal, -shm and lock files are created beside it.
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    const int e = errno;
    return why(e, "this user may not create files in its directory '" + dir.string() + "'");
  }
  return {};
}

int sqlite_schema_version() { return sqlite_schema::latest_version(); }

} // namespace annals
