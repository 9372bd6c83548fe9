#pragma once
// The shared store: a PostgreSQL 15 database that many processes (and later
// nodes) append to. Only a provider factory here: libpq stays in
// persistence/src (docs/store.md, "The PostgreSQL store").

#include "annals/persistence/cluster_coordination.hpp"
#include "annals/persistence/event_store.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace annals {

struct PostgresStoreOptions {
  /// A libpq connection URI: postgresql://user[:password]@host:port/database
  /// (postgres:// too), with libpq's query parameters (?sslmode=...).
  std::string url;
  /// The largest serialized data of one event.
  std::size_t max_event_bytes = 1 << 20;
  /// How long an append waits for another writer's batch (the log's counter
  /// row) or any other lock before it fails as "locked".
  std::chrono::milliseconds lock_timeout{5000};
  /// The server ends a session of ours that sits inside a transaction this
  /// long without a statement (a paused or stuck process), so it cannot hold
  /// the log's counter row, and every other writer, hostage.
  std::chrono::milliseconds idle_in_transaction_timeout{10000};
  /// How long opening a connection may take.
  std::chrono::seconds connect_timeout{5};
  /// Create annals' schema in an empty database and migrate an older one
  /// forward. The store tools pass false: they never initialise a database.
  bool initialize = true;
  /// Open for reading only (tools); writes fail as read_only.
  bool read_only = false;
};

/// A provider whose connections go to the database at options.url. Each
/// connection checks (and, with `initialize`, creates or migrates) annals'
/// schema when it opens, and reconnects by itself after the server went
/// away: the operation that met the failure throws StoreError, the next one
/// opens a new session. Throws nothing itself.
std::shared_ptr<EventStoreProvider> postgres_store(PostgresStoreOptions options);

/// The cluster's coordination tables (shard leases, membership) in the same
/// database, on a session of its own (docs/cluster.md). Connects at once:
/// throws StoreError like postgres_store's connections.
std::unique_ptr<ClusterCoordination> postgres_cluster_coordination(PostgresStoreOptions options);

/// The schema version this build writes to PostgreSQL.
int postgres_schema_version();

/// "postgresql://user@host:port/database" for logs and messages: the URL
/// without its password and query. Throws StoreError for text that libpq
/// cannot read as a connection URI.
std::string describe_postgres_url(const std::string& url);

} // namespace annals
