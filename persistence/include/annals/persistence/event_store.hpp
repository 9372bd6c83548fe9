#pragma once
// EventStore: one connection to a store, offering every port: the event log
// (event_log.hpp), aggregate snapshots (aggregate_snapshot_store.hpp),
// projection state (projection_state_store.hpp), the audit trail
// (audit_trail.hpp) and the record of what uses the store (store_users.hpp).
// Code that needs one of them takes that port; whoever opens connections
// holds EventStores. One EventStore object is used from one
// thread at a time; an EventStoreProvider opens as many as the runtime needs
// (one writer for the journal, one per reader thread).
//
// Every operation throws StoreError when the store itself fails.

#include "annals/persistence/aggregate_snapshot_store.hpp"
#include "annals/persistence/audit_trail.hpp"
#include "annals/persistence/event_log.hpp"
#include "annals/persistence/projection_state_store.hpp"
#include "annals/persistence/store_error.hpp"
#include "annals/persistence/store_users.hpp"

#include <memory>
#include <string>

namespace annals {

class EventStore : public EventLog,
                   public AggregateSnapshotStore,
                   public ProjectionStateStore,
                   public AuditTrail,
                   public StoreUsage {
public:
  ~EventStore() override = default;
};

/// Opens connections to one store.
class EventStoreProvider {
public:
  virtual ~EventStoreProvider() = default;
  /// A new connection. Throws StoreError (not a database, locked, ...).
  virtual std::unique_ptr<EventStore> connect() const = 0;
  /// "sqlite:/path/to/file.db" or "memory", for logs.
  virtual std::string describe() const = 0;
};

} // namespace annals
