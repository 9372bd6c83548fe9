#include "sqlite_schema.hpp"

#include "annals/persistence/store_error.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <string>
#include <vector>

namespace annals::sqlite_schema {

namespace {

// Migration i takes the schema from version i to version i + 1. Append new
// ones at the end; never edit a released one.
const std::vector<const char*>& migrations() {
  static const std::vector<const char*> m = {
    // 0 -> 1: events, snapshots, idempotency keys
    R"sql(
      CREATE TABLE events (
        position       INTEGER PRIMARY KEY,   -- global position, assigned in commit order
        stream_type    TEXT    NOT NULL,
        stream_id      TEXT    NOT NULL,
        version        INTEGER NOT NULL,      -- 1..n within the stream
        type           TEXT    NOT NULL,
        schema_version INTEGER NOT NULL DEFAULT 1,
        data           TEXT    NOT NULL,      -- JSON
        metadata       TEXT    NOT NULL,      -- JSON: correlation_id, causation_id, principal
        recorded_at    INTEGER NOT NULL,      -- commit time, microseconds since the epoch
        UNIQUE (stream_type, stream_id, version)
      );
      CREATE TABLE snapshots (
        stream_type      TEXT    NOT NULL,
        stream_id        TEXT    NOT NULL,
        version          INTEGER NOT NULL,
        snapshot_version INTEGER NOT NULL,
        state            TEXT    NOT NULL,
        taken_at         INTEGER NOT NULL,
        PRIMARY KEY (stream_type, stream_id)
      ) WITHOUT ROWID;
      CREATE TABLE idempotency_keys (
        key          TEXT    PRIMARY KEY,
        stream_type  TEXT    NOT NULL,
        stream_id    TEXT    NOT NULL,
        fingerprint  TEXT    NOT NULL,      -- the command's canonical JSON
        result       TEXT    NOT NULL,      -- the first CommandResult, JSON
        created_at   INTEGER NOT NULL
      ) WITHOUT ROWID;
    )sql",
    // 1 -> 2: projections' dead letters and read-model snapshots
    R"sql(
      CREATE TABLE dead_letters (
        projection   TEXT    NOT NULL,
        position     INTEGER NOT NULL,      -- the parked event's global position
        stream_type  TEXT    NOT NULL,
        stream_id    TEXT    NOT NULL,
        event_type   TEXT    NOT NULL,
        error        TEXT    NOT NULL,      -- the last failure's message
        attempts     INTEGER NOT NULL,
        parked_at    INTEGER NOT NULL,      -- microseconds since the epoch
        PRIMARY KEY (projection, position)
      ) WITHOUT ROWID;
      CREATE TABLE projection_snapshots (
        projection       TEXT    PRIMARY KEY,
        position         INTEGER NOT NULL,  -- the last position the model includes
        snapshot_version INTEGER NOT NULL,
        model            TEXT    NOT NULL,  -- JSON
        taken_at         INTEGER NOT NULL
      ) WITHOUT ROWID;
    )sql",
    // 2 -> 3: the command audit trail
    R"sql(
      CREATE TABLE command_audit (
        id             INTEGER PRIMARY KEY,   -- increasing; rows are never changed
        at             INTEGER NOT NULL,      -- microseconds since the epoch
        principal      TEXT    NOT NULL,
        correlation_id TEXT    NOT NULL,
        command_id     TEXT    NOT NULL,
        aggregate      TEXT    NOT NULL,
        aggregate_id   TEXT    NOT NULL,
        command        TEXT    NOT NULL,
        outcome        TEXT    NOT NULL,      -- accepted | replayed | rejected | denied | failed
        code           TEXT    NOT NULL,
        message        TEXT    NOT NULL,
        position       INTEGER NOT NULL
      );
    )sql",
    // 3 -> 4: what uses the store (aggregate types and projections runtimes
    // registered), started with what the store already shows
    R"sql(
      CREATE TABLE store_users (
        kind         TEXT    NOT NULL,      -- aggregate | projection
        name         TEXT    NOT NULL,
        recorded_at  INTEGER NOT NULL,      -- first recorded, microseconds since the epoch
        PRIMARY KEY (kind, name)
      ) WITHOUT ROWID;
      INSERT OR IGNORE INTO store_users(kind, name, recorded_at)
        SELECT DISTINCT 'aggregate', stream_type, CAST(strftime('%s', 'now') AS INTEGER) * 1000000 FROM events;
      INSERT OR IGNORE INTO store_users(kind, name, recorded_at)
        SELECT 'projection', projection, CAST(strftime('%s', 'now') AS INTEGER) * 1000000
        FROM (SELECT projection FROM dead_letters UNION SELECT projection FROM projection_snapshots);
    )sql",
  };
  return m;
}

} // namespace

int latest_version() { return static_cast<int>(migrations().size()); }

int oldest_readable_version() { return 3; }

void check_identity(SQLite::Database& db, const char* path) {
  const std::string where = std::string("'") + path + "'";
  int app_id = db.execAndGet("PRAGMA application_id").getInt();
  int version = db.execAndGet("PRAGMA user_version").getInt();
  if (app_id != 0 && app_id != application_id)
    throw StoreError(StoreFailure::incompatible,
                     "database file " + where + " belongs to another application (application_id "
                       + std::to_string(app_id) + "), not an annals store");
  if (app_id == 0) {
    int tables = db.execAndGet("SELECT count(*) FROM sqlite_master").getInt();
    if (tables > 0)
      throw StoreError(StoreFailure::incompatible,
                       "database file " + where + " is an SQLite database but not an annals store ("
                         + std::to_string(tables) + " foreign schema objects)");
  }
  if (version > latest_version())
    throw StoreError(StoreFailure::incompatible,
                     "database file " + where + " has schema version " + std::to_string(version)
                       + ", newer than this build of annals supports (" + std::to_string(latest_version())
                       + ")");
}

void migrate(SQLite::Database& db, const char* path) {
  check_identity(db, path);
  int app_id = db.execAndGet("PRAGMA application_id").getInt();
  int version = db.execAndGet("PRAGMA user_version").getInt();
  if (version == latest_version() && app_id == application_id) return;

  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  // Another connection may have migrated while we waited for the lock.
  version = db.execAndGet("PRAGMA user_version").getInt();
  for (int v = version; v < latest_version(); ++v) db.exec(migrations()[static_cast<std::size_t>(v)]);
  db.exec("PRAGMA application_id=" + std::to_string(application_id));
  db.exec("PRAGMA user_version=" + std::to_string(latest_version()));
  tx.commit();
}

} // namespace annals::sqlite_schema
