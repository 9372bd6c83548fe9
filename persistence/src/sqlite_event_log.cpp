// The SQLite store's event log: appends (group commit, one savepoint per
// append, the shared append rules), reads, idempotency keys, streams.
#include "sqlite_store_impl.hpp"

#include "detail/append_rules.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace annals::detail {

std::vector<AppendOutcome> SqliteEventStore::append(const std::vector<AppendRequest>& batch) {
  require_writable("cannot append");
  std::vector<AppendOutcome> out;
  out.reserve(batch.size());
  const std::string doing = "appending " + std::to_string(batch.size()) + " command(s)";
  guard(doing, [&] {
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    const std::int64_t now = now_us();
    for (const auto& req : batch) out.push_back(append_one(req, now));
    commit(tx, doing);
  });
  return out;
}

// A failure before COMMIT (BEGIN, an insert, a constraint, a busy lock) means
// nothing was written. A failure of COMMIT itself is different: with an I/O
// or fsync error SQLite ends the transaction here, but its complete frames
// may already be in the WAL, and a restart would recover them. Only a COMMIT
// that failed with the transaction still open (SQLITE_BUSY) is known not to
// have happened: the Transaction's destructor rolls it back.
void SqliteEventStore::commit(SQLite::Transaction& tx, const std::string& doing) {
  try {
    tx.commit();
  } catch (const SQLite::Exception& e) {
    if (!sqlite3_get_autocommit(db_->getHandle())) throw;
    const StoreError failure = to_store_error(e, opts_.path, "committing after " + doing, opts_.busy_timeout);
    throw StoreError(failure.kind(),
                     std::string(failure.what())
                       + "; the outcome is unknown: the appends may have been written and may reappear after a"
                         " restart; retry with the same idempotency key to find out",
                     StoreError::Outcome::unknown);
  }
}

std::vector<Event> SqliteEventStore::read_stream(const StreamId& s, std::int64_t from_version,
                               std::size_t max_count) {
  std::vector<Event> out;
  guard("reading stream " + s.to_string(), [&] {
    auto& q = *read_stream_;
    ResetOnExit r{q};
    q.bind(1, s.aggregate);
    q.bind(2, s.id);
    q.bind(3, static_cast<std::int64_t>(from_version));
    q.bind(4, static_cast<std::int64_t>(max_count));
    while (q.executeStep()) {
      Event e;
      e.stream = s;
      e.position = q.getColumn(0).getInt64();
      e.version = q.getColumn(1).getInt64();
      fill(e, q, 2);
      out.push_back(std::move(e));
    }
  });
  return out;
}

std::vector<Event> SqliteEventStore::read_all(std::int64_t from_position, std::size_t max_count) {
  std::vector<Event> out;
  guard("reading events from position " + std::to_string(from_position), [&] {
    auto& q = *read_all_;
    ResetOnExit r{q};
    q.bind(1, static_cast<std::int64_t>(from_position));
    q.bind(2, static_cast<std::int64_t>(max_count));
    while (q.executeStep()) {
      Event e;
      e.position = q.getColumn(0).getInt64();
      e.stream.aggregate = q.getColumn(1).getString();
      e.stream.id = q.getColumn(2).getString();
      e.version = q.getColumn(3).getInt64();
      fill(e, q, 4);
      out.push_back(std::move(e));
    }
  });
  return out;
}

std::optional<std::int64_t> SqliteEventStore::polled_head() {
  // data_version changes when another connection (this process's journal
  // or another process) commits to the file; it needs no table read.
  std::int64_t version = 0;
  guard("checking the store for new commits", [&] {
    ResetOnExit r{*data_version_};
    if (data_version_->executeStep()) version = data_version_->getColumn(0).getInt64();
  });
  if (version == last_data_version_) return std::nullopt;
  last_data_version_ = version;
  return head_position();
}

std::int64_t SqliteEventStore::head_position() {
  std::int64_t v = 0;
  guard("reading the head position", [&] {
    ResetOnExit r{*head_};
    if (head_->executeStep()) v = head_->getColumn(0).getInt64();
  });
  return v;
}

std::int64_t SqliteEventStore::stream_version(const StreamId& s) {
  std::int64_t v = 0;
  guard("reading the version of " + s.to_string(), [&] { v = current_version(s); });
  return v;
}

std::optional<IdempotencyRecord> SqliteEventStore::find_idempotency_key(const std::string& key) {
  std::optional<IdempotencyRecord> out;
  guard("looking up an idempotency key", [&] { out = lookup_key(key); });
  return out;
}

std::int64_t SqliteEventStore::event_count() {
  std::int64_t n = 0;
  guard("counting events", [&] { n = db_->execAndGet("SELECT count(*) FROM events").getInt64(); });
  return n;
}

std::vector<StreamInfo> SqliteEventStore::streams(const std::string& aggregate, const std::optional<StreamId>& after,
                                std::size_t max_count) {
  std::vector<StreamInfo> out;
  guard(aggregate.empty() ? std::string("listing streams") : "listing streams of '" + aggregate + "'", [&] {
    // One GROUP BY over the (stream_type, stream_id, version) index, which
    // also holds the position (the rowid): no table access.
    std::string sql =
      "SELECT stream_type, stream_id, MAX(version), COUNT(*), MIN(position), MAX(position) FROM events";
    std::vector<std::string> where;
    if (!aggregate.empty()) where.push_back("stream_type = :aggregate");
    if (after) where.push_back("(stream_type, stream_id) > (:after_type, :after_id)");
    for (std::size_t i = 0; i < where.size(); ++i) sql += (i == 0 ? " WHERE " : " AND ") + where[i];
    sql += " GROUP BY stream_type, stream_id ORDER BY stream_type, stream_id LIMIT :limit";
    SQLite::Statement q(*db_, sql);
    if (!aggregate.empty()) q.bind(":aggregate", aggregate);
    if (after) {
      q.bind(":after_type", after->aggregate);
      q.bind(":after_id", after->id);
    }
    q.bind(":limit", static_cast<std::int64_t>(
                       std::min<std::size_t>(max_count, static_cast<std::size_t>(INT64_MAX))));
    while (q.executeStep()) {
      StreamInfo info;
      info.stream = {q.getColumn(0).getString(), q.getColumn(1).getString()};
      info.version = q.getColumn(2).getInt64();
      info.events = q.getColumn(3).getInt64();
      info.first_position = q.getColumn(4).getInt64();
      info.last_position = q.getColumn(5).getInt64();
      out.push_back(std::move(info));
    }
  });
  return out;
}

std::vector<std::string> SqliteEventStore::aggregate_types() {
  std::vector<std::string> out;
  guard("listing the aggregate types", [&] {
    auto& q = *aggregate_types_;
    ResetOnExit r{q};
    while (q.executeStep()) out.push_back(q.getColumn(0).getString());
  });
  return out;
}

std::vector<std::string> SqliteEventStore::event_types() {
  std::vector<std::string> out;
  guard("listing the event types", [&] {
    auto& q = *event_types_;
    ResetOnExit r{q};
    while (q.executeStep()) out.push_back(q.getColumn(0).getString());
  });
  return out;
}

// Columns from `first`: type, schema_version, data, metadata, recorded_at.
void SqliteEventStore::fill(Event& e, SQLite::Statement& q, int first) {
  e.type = q.getColumn(first).getString();
  e.schema_version = q.getColumn(first + 1).getInt();
  const std::string what = "event " + std::to_string(e.position) + " (" + e.stream.to_string() + ")";
  e.data = parse_stored(q.getColumn(first + 2).getString(), "the data of " + what);
  e.metadata = EventMetadata::from_json(parse_stored(q.getColumn(first + 3).getString(),
                                                     "the metadata of " + what));
  e.metadata.timestamp_us = q.getColumn(first + 4).getInt64();
}

std::int64_t SqliteEventStore::current_version(const StreamId& s) {
  auto& q = *version_;
  ResetOnExit r{q};
  q.bind(1, s.aggregate);
  q.bind(2, s.id);
  q.executeStep();
  return q.getColumn(0).getInt64();
}

std::optional<IdempotencyRecord> SqliteEventStore::lookup_key(const std::string& key) {
  auto& q = *find_key_;
  ResetOnExit r{q};
  q.bind(1, key);
  if (!q.executeStep()) return std::nullopt;
  IdempotencyRecord rec;
  rec.key = key;
  rec.stream = {q.getColumn(0).getString(), q.getColumn(1).getString()};
  rec.fingerprint = q.getColumn(2).getString();
  auto result = CommandResult::from_json(parse_stored(q.getColumn(3).getString(),
                                                      "the result of idempotency key '" + key + "'"));
  if (!result) throw StoreError(StoreFailure::corrupt, result.error().message);
  rec.result = std::move(*result);
  return rec;
}

// One append inside the batch transaction. The shared rules check
// everything that can make it fail alone before anything is written; a
// savepoint undoes a partial write if an insert still fails.
AppendOutcome SqliteEventStore::append_one(const AppendRequest& req, std::int64_t now) {
  if (req.fence) return append_rules::unchecked_fence(req);  // a single-node store: no leases
  auto verdict = append_rules::check_append(
    req, opts_.max_event_bytes, [&](const std::string& key) { return lookup_key(key); },
    [&](const StreamId& s) { return current_version(s); });
  if (verdict.decided) return std::move(*verdict.decided);
  const std::vector<std::string>& bodies = verdict.checked.bodies;
  const EventMetadata md = append_rules::commit_metadata(req, now);
  json::object mdj = md.to_json();
  mdj.erase("timestamp");  // stored in its own column
  const std::string metadata = json::serialize(mdj);

  AppendResult res;
  res.version = verdict.checked.current_version;
  db_->exec("SAVEPOINT append_one");
  try {
    auto& ins = *insert_event_;
    for (std::size_t i = 0; i < req.events.size(); ++i) {
      const auto& ev = req.events[i];
      ResetOnExit r{ins};
      ins.bind(1, req.stream.aggregate);
      ins.bind(2, req.stream.id);
      ins.bind(3, static_cast<std::int64_t>(++res.version));
      ins.bind(4, ev.type);
      ins.bind(5, ev.schema_version);
      ins.bindNoCopy(6, bodies[i]);
      ins.bindNoCopy(7, metadata);
      ins.bind(8, static_cast<std::int64_t>(now));
      ins.exec();
      res.events.push_back(
        append_rules::committed_event(req, i, bodies[i], res.version, db_->getLastInsertRowid(), md));
    }
    if (req.idempotency_key) {
      auto& k = *insert_key_;
      ResetOnExit r{k};
      k.bind(1, *req.idempotency_key);
      k.bind(2, req.stream.aggregate);
      k.bind(3, req.stream.id);
      k.bind(4, req.fingerprint);
      k.bind(5, json::serialize(append_rules::key_record(req, res).result.to_json()));
      k.bind(6, static_cast<std::int64_t>(now));
      k.exec();
    }
    if (req.audit) insert_audit(append_rules::accepted_audit(*req.audit, res, now));
    db_->exec("RELEASE append_one");
  } catch (const SQLite::Exception& e) {
    // After some errors (SQLITE_FULL, I/O) SQLite has already rolled back
    // the whole transaction; then the batch fails as a whole.
    if (sqlite3_get_autocommit(db_->getHandle())) throw;
    try {
      db_->exec("ROLLBACK TO append_one");
      db_->exec("RELEASE append_one");
    } catch (const SQLite::Exception&) {
      throw e;
    }
    if ((e.getErrorCode() & 0xff) == SQLITE_CONSTRAINT)
      return append_rules::changed_during_append(req.stream, e.what());
    throw;
  }
  return res;
}

} // namespace annals::detail
