#pragma once
// SqliteEventStore: one connection to an SQLite store, offering every port.
// Internal to annals::persistence. Its methods are defined by port:
// sqlite_event_log.cpp (appends, reads, keys, streams) and
// sqlite_event_store.cpp (opening, snapshots, projection state, audit).

#include "annals/persistence/sqlite_event_store.hpp"
#include "annals/persistence/store_lock.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace annals::detail {

// Turns an SQLite failure into a StoreError whose message says what the
// operator should look at.
StoreError to_store_error(const SQLite::Exception& e, const std::string& path, const std::string& doing,
                          std::chrono::milliseconds busy);

// Parses stored JSON; text that is not JSON means a damaged store.
json::value parse_stored(const std::string& text, const std::string& what);

// Resets a statement when leaving scope, so that no read transaction stays
// open between calls (a stepped SELECT would make writers of other
// connections fail with SQLITE_BUSY at once).
struct ResetOnExit {
  SQLite::Statement& s;
  ~ResetOnExit() { s.tryReset(); }
};

class SqliteEventStore final : public EventStore {
public:
  explicit SqliteEventStore(SqliteStoreOptions opts);

  // EventLog (sqlite_event_log.cpp)
  std::vector<AppendOutcome> append(const std::vector<AppendRequest>& batch) override;
  std::vector<Event> read_stream(const StreamId& s, std::int64_t from_version, std::size_t max_count) override;
  std::vector<Event> read_all(std::int64_t from_position, std::size_t max_count) override;
  std::int64_t head_position() override;
  std::optional<std::int64_t> polled_head() override;
  std::int64_t stream_version(const StreamId& s) override;
  std::optional<IdempotencyRecord> find_idempotency_key(const std::string& key) override;
  std::int64_t event_count() override;
  std::vector<StreamInfo> streams(const std::string& aggregate, const std::optional<StreamId>& after,
                                  std::size_t max_count) override;
  std::vector<std::string> aggregate_types() override;
  std::vector<std::string> event_types() override;

  // AggregateSnapshotStore
  std::optional<Snapshot> load_snapshot(const StreamId& s) override;
  void save_snapshot(const Snapshot& snap) override;

  // ProjectionStateStore
  void park_event(const DeadLetter& letter) override;
  std::vector<DeadLetter> dead_letters(const std::string& projection) override;
  bool remove_dead_letter(const std::string& projection, std::int64_t position) override;
  bool unpark_retried(const std::string& projection, std::int64_t position,
                      const std::optional<ProjectionSnapshot>& snapshot) override;
  std::optional<ProjectionSnapshot> load_projection_snapshot(const std::string& projection) override;
  void save_projection_snapshot(const ProjectionSnapshot& snap) override;

  // AuditTrail
  void append_audit(const std::vector<AuditRecord>& records) override;
  std::vector<AuditRecord> audit_log(std::int64_t from_id, std::size_t max_count) override;

  // StoreUsage (sqlite_event_store.cpp)
  void record_users(const StoreUsers& users) override;
  std::optional<StoreUsers> recorded_users() override;

private:
  // Writes to a read-only store fail with a sentence saying what was refused.
  void require_writable(const char* what) const;
  // How a read-only connection opens the file without creating anything
  // beside it: sets `filename` and returns the SQLite open flags.
  int read_only_open(std::string& filename);

  template <class F>
  void guard(const std::string& doing, F&& f) {
    try {
      f();
    } catch (const SQLite::Exception& e) {
      throw to_store_error(e, opts_.path, doing, opts_.busy_timeout);
    }
  }

  // Throws unless `mode` (the answer to PRAGMA journal_mode=WAL) is WAL.
  void require_wal(const std::string& mode) const;
  void check_readable_schema();
  void prepare();
  // Columns from `first`: type, schema_version, data, metadata, recorded_at.
  void fill(Event& e, SQLite::Statement& q, int first);
  std::int64_t current_version(const StreamId& s);
  std::optional<IdempotencyRecord> lookup_key(const std::string& key);
  AppendOutcome append_one(const AppendRequest& req, std::int64_t now);
  // Commits an append batch; a failed COMMIT throws StoreError with outcome unknown.
  void commit(SQLite::Transaction& tx, const std::string& doing);
  void insert_audit(const AuditRecord& rec);

  SqliteStoreOptions opts_;
  bool read_only_ = false;
  std::string read_only_reason_;  // why read_only_ ("opened read-only", "this user may not write it", ...)
  int schema_version_ = 0;        // of the file as opened (a read-only connection reads version 3 as it is)
  StoreLock lock_;  // shared while open for writing; released after the connection (declared before db_)
  std::unique_ptr<SQLite::Database> db_;
  std::unique_ptr<SQLite::Statement> insert_event_, version_, read_stream_, read_all_, head_, load_snapshot_,
    save_snapshot_, find_key_, insert_key_, park_event_, dead_letters_, all_dead_letters_, remove_dead_letter_,
    load_projection_snapshot_, save_projection_snapshot_, replace_projection_snapshot_, insert_audit_, read_audit_,
    aggregate_types_, event_types_, read_users_, insert_user_, data_version_;
  std::int64_t last_data_version_ = -1;  // polled_head(): the value at the previous call
};

} // namespace annals::detail
