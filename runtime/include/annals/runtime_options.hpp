#pragma once
// Settings of an embedded runtime. Every field has a working default.

#include "annals/authorization.hpp"
#include "annals/command_forwarder.hpp"
#include "annals/command.hpp"
#include "annals/log.hpp"
#include "annals/persistence/event_store.hpp"
#include "annals/projection_options.hpp"

#include <chrono>
#include <cstddef>
#include <memory>

namespace annals {

class MetricsRegistry;  // annals/metrics_registry.hpp

struct RuntimeOptions {
  /// Where events live. Default: sqlite_store({"annals.db"}) in the working
  /// directory; postgres_store({"postgresql://user@host:port/db"}) for a
  /// database shared by many processes; memory_store() for none;
  /// open_store_url(text) for any of them named by text (store_url.hpp).
  std::shared_ptr<EventStoreProvider> store;

  /// How long execute() waits for an answer before it returns a timeout.
  std::chrono::milliseconds command_timeout{std::chrono::seconds(5)};
  /// An aggregate idle this long is passivated (its memory released).
  std::chrono::milliseconds passivate_after{std::chrono::minutes(5)};
  /// Above this many live aggregate actors, the least recently used are
  /// passivated as soon as they are idle (busy ones finish first), so memory
  /// stays bounded under a flood of distinct ids. 0: no bound.
  std::size_t max_active_aggregates = 100000;
  /// How long an aggregate waits for the journal or a store reader.
  std::chrono::milliseconds store_timeout{std::chrono::seconds(30)};

  /// Threads of the actor scheduler (0: CAF's default, max(cores, 4)).
  std::size_t worker_threads = 0;
  /// Reader connections (each on its own thread) for recovery and lookups.
  std::size_t reader_threads = 2;
  /// Most appends the journal commits in one transaction.
  std::size_t max_batch = 512;
  /// Commands waiting for one aggregate before it answers "overloaded".
  std::size_t max_queued_per_aggregate = 10000;
  /// When another writer (another process on the same store) appended to a
  /// stream first, its aggregate reloads and decides the command again, at
  /// most this often (with a growing, jittered pause from 1 ms) before it
  /// answers concurrency_conflict. A command with an expected_version is
  /// rejected at the first reload that shows a newer version. 0: never retry.
  int conflict_retries = 10;

  /// Size limits for ids and payloads; the store's max_event_bytes should match.
  CommandLimits limits;

  ProjectionOptions projections;

  /// Asked before every command; empty: every command is allowed.
  CommandPolicy authorize;

  /// Structured logs: level, format (text or JSON lines), sink.
  LogOptions log;

  /// Where the runtime records its metrics (make_metrics_registry(),
  /// annals/metrics_registry.hpp). Empty: a registry of its own. Share one
  /// between runtimes that run one after another (a restart) to keep
  /// counting; never between two runtimes running at the same time. A runtime
  /// sets the registry's gauges to 0 when it stops.
  std::shared_ptr<MetricsRegistry> metrics;

  /// Record every command's outcome in the store's audit trail
  /// (Runtime::audit_log).
  bool audit = true;

  /// On a clustered node (docs/cluster.md): the shards this node holds, from
  /// its lease manager. Every append then carries the shard's fence and the
  /// store refuses it once the lease is gone (G8): the command fails with
  /// not_owner and nothing is written. Needs the PostgreSQL store. Empty: a
  /// single node, no fencing.
  std::shared_ptr<const ShardOwnership> shard_ownership;

  /// On a clustered node: sends a command whose shard another node holds to
  /// that node (annals/command_forwarder.hpp), so a command may arrive at
  /// any node. Commands other nodes forward here come in through
  /// Runtime::execute_forwarded. Empty: every command runs here.
  std::shared_ptr<CommandForwarder> forwarder;
};

} // namespace annals
