#pragma once
// The embedded default: an SQLite file in WAL mode.

#include "annals/persistence/event_store.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace annals {

enum class Durability {
  /// synchronous=NORMAL: a committed transaction survives a crash of the
  /// process; the last transactions may be lost if the machine loses power.
  normal,
  /// synchronous=FULL: every commit is fsynced; survives power loss, slower.
  full
};

struct SqliteStoreOptions {
  std::string path = "annals.db";
  Durability durability = Durability::normal;
  /// How long a writer waits for a lock held by another connection or process.
  std::chrono::milliseconds busy_timeout{5000};
  /// The largest serialized data of one event.
  std::size_t max_event_bytes = 1 << 20;
  /// Cap on the file size (0: none); writes beyond it fail as "full".
  std::int64_t max_size_bytes = 0;
  /// Open for reading only (tools); appends fail. Nothing is created
  /// beside the file: where this process may write, a connection that only
  /// reads (the last one to close removes the -wal and -shm files as any
  /// writer would); where it may not, the file as it is (SQLite's
  /// immutable=1), unless a -wal is there to be read with its -shm.
  bool read_only = false;
  /// The SQLite VFS to open the file with; empty: SQLite's default. Tests
  /// name a VFS that wraps the default one to inject I/O faults (fsync).
  std::string vfs{};
};

/// Opens (creating and migrating if needed) the store at options.path.
/// Throws StoreError when the file is not usable.
std::unique_ptr<EventStore> open_sqlite_store(const SqliteStoreOptions& options);

/// A provider that opens connections to the same file.
std::shared_ptr<EventStoreProvider> sqlite_store(SqliteStoreOptions options);

/// How many times a connection of this process found the file locked by
/// another connection (another process, or another runtime on the same
/// file) and waited for it (SQLITE_BUSY retried within busy_timeout), since
/// the process started. A diagnostic for contention between writers.
std::int64_t sqlite_lock_waits();

/// The schema version this build writes.
int sqlite_schema_version();

/// Why this process cannot write the store file at `path` or create files
/// beside it ("this user may not write it", "its filesystem is mounted
/// read-only", ...), or "" when it can. A store it cannot write opens
/// read-only.
std::string sqlite_unwritable_reason(const std::string& path);

} // namespace annals
