#pragma once
// Runtime: the embedding API. It owns the actor system, the store's journal
// and readers, and the activation registry of aggregates. No CAF in this header.
//
//   annals::RuntimeOptions opts;
//   opts.store = annals::sqlite_store({"bank.db"});
//   annals::Runtime rt(opts);
//   rt.register_aggregate(bank::account_type());
//   annals::CommandResult r = rt.execute(cmd);   // blocks, thread-safe
//
// Destroying the runtime stops it: commands already with the journal are
// committed and answered first.

#include "annals/aggregate_inspection.hpp"
#include "annals/aggregate_type.hpp"
#include "annals/command.hpp"
#include "annals/command_result.hpp"
#include "annals/metrics.hpp"
#include "annals/metrics_registry.hpp"
#include "annals/projection_status.hpp"
#include "annals/projection_type.hpp"
#include "annals/upcasters.hpp"
#include "annals/runtime_options.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <future>
#include <memory>
#include <string>
#include <vector>

namespace annals {

namespace detail {
struct RuntimeAccess;
}

class Runtime {
public:
  /// Opens the store (creating or migrating it) and starts the actors.
  /// Throws StoreError if the store cannot be opened (not a database, locked,
  /// from a newer version, ...).
  explicit Runtime(RuntimeOptions options = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  /// Adds an aggregate type. Thread-safe; a second type of the same name
  /// throws std::invalid_argument.
  void register_aggregate(AggregateType type);

  /// Runs a command and waits for its result (at most options.command_timeout,
  /// or `timeout`). Never throws for bad input or store failures: those are
  /// rejected/failed results. Safe to call from many threads at once; do
  /// not call it from inside an actor.
  CommandResult execute(Command command);
  CommandResult execute(Command command, std::chrono::milliseconds timeout);

  /// Parses a JSON command envelope and runs it. Malformed input is a
  /// rejected result with code invalid_command (or payload_too_large).
  CommandResult execute_json(std::string_view json_text);

  /// Runs a command without blocking; `done` is called once with the result,
  /// on one of the runtime's threads, never on the caller's (keep it short, do
  /// not block in it). Only while the runtime shuts down is `done` called
  /// directly, with code shutting_down.
  void execute_async(Command command, std::function<void(CommandResult)> done);
  /// Same, as a future.
  std::future<CommandResult> execute_async(Command command);

  /// A command another node of the cluster forwarded here, as the owner of
  /// its shard (the node transport calls this; docs/cluster.md). It runs
  /// the whole pipeline here (checks, authorization, audit) but is never
  /// forwarded again: if this node does not hold its shard, it fails with
  /// not_owner at once. `timeout` is what is left of the sender's.
  void execute_forwarded(Command command, std::chrono::milliseconds timeout,
                         std::function<void(CommandResult)> done);

  /// Adds the step that turns `event_type` events of `aggregate` from schema
  /// version `from_version` into `from_version + 1` when they are read
  /// (aggregate recovery, projections, catch-up). Register upcasters before
  /// the types that read those events. See annals/upcasters.hpp.
  void register_upcaster(const std::string& aggregate, const std::string& event_type, int from_version,
                         Upcasters::Fn fn);

  /// Adds a projection and starts it: it catches up from the store, then
  /// follows new events. Thread-safe; a second one of the same name throws
  /// std::invalid_argument.
  void register_projection(ProjectionType type);

  /// Asks a projection a named query. With min_position > 0 (a command
  /// result's `position`) the answer waits until the projection has applied
  /// that position — read-your-writes — or fails with code timeout after
  /// `timeout` (default options.projections.query_timeout). Queries never
  /// change the read model. Errors: unknown_projection, unknown_query,
  /// invalid_query, timeout.
  Expected<json::value> query(const std::string& projection, const std::string& name, json::object args = {},
                              std::int64_t min_position = 0,
                              std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  /// The same query without blocking: `done` is called once with the
  /// answer, on one of the runtime's threads (keep it short, do not block in
  /// it). No thread waits meanwhile, so queries waiting for a far
  /// min_position cost memory only. Errors found before the projection is
  /// asked (unknown_projection, shutting_down) are passed to `done` at once,
  /// on the caller's thread.
  void query_async(const std::string& projection, const std::string& name, json::object args,
                   std::int64_t min_position, std::optional<std::chrono::milliseconds> timeout,
                   std::function<void(Expected<json::value>)> done);

  Expected<ProjectionStatus> projection_status(const std::string& projection);
  /// The registered aggregate types, each with its command types (for tools
  /// that check a script before running it).
  std::map<std::string, std::set<std::string>> aggregate_commands();
  /// The registered aggregate types, each with the event types it applies.
  std::map<std::string, std::set<std::string>> aggregate_events();
  std::vector<std::string> projection_names();
  /// The registered projections, each with its query names.
  std::map<std::string, std::set<std::string>> projection_queries();
  /// The registered types themselves, by name (for references generated
  /// from them, such as `annals describe`).
  std::vector<std::shared_ptr<const AggregateType>> aggregate_types();
  std::vector<std::shared_ptr<const ProjectionType>> projection_types();

  /// Events parked for a projection ("" for all projections).
  std::vector<DeadLetter> dead_letters(const std::string& projection = "");
  /// Applies a parked event again (after a fix) and removes it from the
  /// dead letters; the error if it still fails (then it stays parked).
  std::optional<Error> retry_dead_letter(const std::string& projection, std::int64_t position);

  /// Rebuilds a projection from position 0 (after a fix to its code, say)
  /// while the current copy keeps answering queries; the new copy replaces
  /// it once caught up. Blocks until then; the error if the rebuild failed.
  std::optional<Error> rebuild_projection(const std::string& projection,
                                          std::chrono::milliseconds timeout = std::chrono::minutes(10));

  /// Builds a fresh copy of a projection from the store up to the live
  /// copy's checkpoint and compares the two read models.
  Expected<Reconciliation> reconcile_projection(const std::string& projection,
                                                std::chrono::milliseconds timeout = std::chrono::minutes(10));

  /// The current state of one aggregate instance (activating it). For
  /// diagnostics and tests; reads go to projections, not here.
  Expected<AggregateInspection> inspect(const std::string& aggregate, const std::string& id);

  /// The metrics so far, with latency percentiles (see docs/metrics.md),
  /// from the registry in use (options.metrics, or the runtime's own).
  MetricsSnapshot metrics();
  /// The same in Prometheus' text exposition format.
  std::string metrics_text();

  /// Number of active (recovered, not passivated) aggregate instances.
  std::size_t active_aggregates();

  /// Clustered nodes (options().shard_ownership): asks the live aggregates
  /// of these shards to stop as soon as their queued commands are done. A
  /// node calls it when it hands shards back or its leases run out, so no
  /// state that another node may change is used again. Returns how many
  /// were asked; 0 without shard ownership.
  std::size_t stop_aggregates_of_shards(const std::vector<int>& shards);

  /// The command audit trail: every command's outcome with principal,
  /// correlation id and time, oldest first, from record `from_id` on.
  std::vector<AuditRecord> audit_log(std::int64_t from_id = 1, std::size_t max_count = 1000);

  /// Direct reads of the store (a connection of its own; thread-safe).
  std::vector<Event> read_stream(const StreamId& stream, std::int64_t from_version = 1,
                                 std::size_t max_count = 1000000);
  std::vector<Event> read_all(std::int64_t from_position = 1, std::size_t max_count = 1000000);
  std::int64_t head_position();

  const RuntimeOptions& options() const;

private:
  friend struct detail::RuntimeAccess;  // the internals' one door, for FaultInjector (annals/fault_injector.hpp)
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace annals
