#pragma once
// What the store tools share (store_tools.cpp): opening the selected store
// without ever creating it, a runtime with the selected domains, waiting for
// projections, error mapping and output helpers. The tools themselves are in
// event_tools.cpp (events, streams) and projection_tools.cpp (projections,
// dead-letters, rebuild, reconcile).

#include "context.hpp"

#include "annals/json.hpp"
#include "annals/log.hpp"
#include "annals/persistence/store_lock.hpp"
#include "annals/runtime.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace CLI {
class App;
class Validator;
}

namespace annals::cli {

void add_event_tools(CLI::App& app, Context& ctx);       // events, streams
void add_projection_tools(CLI::App& app, Context& ctx);  // projections, dead-letters, rebuild, reconcile

namespace tools {

/// A tool's failure with its exit code and one-line reason (see run_tool).
class ToolError : public std::runtime_error {
public:
  ToolError(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const noexcept { return code_; }

private:
  int code_;
};


/// Runs a tool's body and sets ctx.exit_code: the body's return value, or
/// for an exception ToolError -> its code, StoreError -> exit_store,
/// anything else -> exit_failed, each reported with ctx.fail on one line.
void run_tool(Context& ctx, const std::function<int()>& body);

enum class Access {
  read_only,  ///< SQLite opened with read_only: works beside a running writer and on a read-only file
  read_write  ///< for tools that change the store (dead-letter retry, rebuild's snapshot)
};

/// Checks the --domain names and the store: an SQLite file must exist and be
/// an annals store of this build's schema version (checked over a read-only
/// connection, so nothing is ever created, initialized or migrated). Throws
/// ToolError (exit_usage for an unknown domain, exit_store for a missing
/// path) or StoreError.
std::shared_ptr<EventStoreProvider> open_store(const Context& ctx, const StoreSelection& sel, Access access);

/// Why this process cannot write the selected store or create files beside
/// it ("" when it can, and for --memory). A tool that writes opens such a
/// store read-only (nothing is created beside it) and reports the write it
/// cannot do with this reason.
std::string unwritable(const StoreSelection& sel);

/// For a tool whose writes are unsafe beside another writer of the store
/// (dead-letters retry, rebuild): checks the store like open_store, then
/// takes its ownership lock exclusive (store_lock.hpp) for as long as the
/// returned hold lives; the tool's own runtime shares it. Throws
/// StoreError(in_use) naming the process that has the store open. Holds
/// nothing for --memory, nor for a store this process cannot write (its
/// writes are refused anyway, so they cannot race another writer's).
StoreLock own_store(const Context& ctx, const StoreSelection& sel);

/// Accepts an integer >= min ("--limit: expected an integer >= 1, got '0'").
CLI::Validator at_least(std::int64_t min);

/// Log levels accepted by --log-level.
void add_log_level_option(CLI::App& sub, std::string& level);

/// What one domain of the catalog registers.
struct DomainContents {
  std::string name;
  std::set<std::string> aggregates;
  std::set<std::string> event_types;  ///< the event types its aggregate types apply
  std::set<std::string> projections;
};

/// Every domain of the catalog, each installed alone into a runtime on an
/// empty in-memory store to see what it registers.
std::vector<DomainContents> catalog_contents(const Context& ctx);

/// What the store says uses it.
struct StoreUse {
  /// False for a store older than the record (SQLite schema 3) and for
  /// --memory: then every domain of the catalog may use it.
  bool recorded = false;
  std::set<std::string> aggregates;   ///< recorded, and those with events
  std::set<std::string> projections;  ///< recorded
};
StoreUse store_use(EventStore& store, const StoreSelection& sel);

/// The domains a tool loads: those of the catalog that use the store (an
/// aggregate type or projection of theirs is in its record), or every one
/// when it has no record. --domain names a subset: one that does not use the
/// store is ToolError(exit_usage) naming those that do.
std::vector<std::string> tool_domains(const Context& ctx, const StoreSelection& sel, EventStore& store);

/// A runtime on the selected store with tool_domains installed; its log
/// records (at `log_level` and above) go to ctx.err as text lines.
std::unique_ptr<Runtime> start_runtime(Context& ctx, const StoreSelection& sel, Access access,
                                       const std::string& log_level);

/// The projections of tool_domains (sorted).
std::vector<std::string> tool_projections(const Context& ctx, const StoreSelection& sel, EventStore& store);

/// "a, b, c".
std::string join(const std::vector<std::string>& names);
std::string join(const std::set<std::string>& names);

/// "a, b, c" for at most `limit` names, then "... and N more".
std::string name_list(const std::vector<std::string>& names, std::size_t limit = 20);

/// The candidate closest to a mistyped `name` (a few edits away), if any.
std::optional<std::string> closest(const std::string& name, const std::set<std::string>& candidates);

/// Throws ToolError(exit_usage) unless `projection` is one of `loaded` (the
/// projections the tool has), saying what it is instead: a projection of a
/// domain that does not use the store ("does not use this store; its
/// projections are: ..."), one the store records that no domain of this
/// annals registers, or unknown.
void require_projection(const Context& ctx, const StoreSelection& sel, EventStore& store,
                        std::vector<std::string> loaded, const std::string& projection);
/// The same with the projections registered in `rt`.
void require_projection(const Context& ctx, const StoreSelection& sel, Runtime& rt, const std::string& projection);

enum class WaitResult { caught_up, timed_out, interrupted };

/// Polls until each projection is running and has applied `target` (the
/// store's head when the tool started: a writer in another process may add
/// more, which this runtime's projectors do not hear of), or `timeout`
/// passes, or ctx.stop_requested().
WaitResult wait_caught_up(Context& ctx, Runtime& rt, const std::vector<std::string>& projections,
                          std::int64_t target, std::chrono::duration<double> timeout);

/// "projection 'x' has applied 5 of 9 events (last error: ...)" for each
/// projection that has not caught up, joined with "; ".
std::string lagging(Runtime& rt, const std::vector<std::string>& projections, std::int64_t target);

/// One JSON value on one line.
void print_json_line(std::ostream& out, const json::value& v);

/// ISO 8601 UTC with milliseconds: "2026-11-24T10:00:00.123Z".
std::string short_time(std::int64_t us);

/// An aligned text table. Rows can be printed in pages: column widths only
/// grow, the header is printed once (before the first page).
class Table {
public:
  /// `right`: one character per column, 'r' for right-aligned (numbers).
  Table(std::vector<std::string> headers, std::string right);
  void add(std::vector<std::string> row);
  std::size_t pending() const { return rows_.size(); }
  /// Prints the rows added since the last call; the last column is not padded.
  void print(std::ostream& out);

private:
  std::vector<std::string> headers_;
  std::string right_;
  std::vector<std::size_t> widths_;
  std::vector<std::vector<std::string>> rows_;
  bool header_done_ = false;
};

} // namespace tools
} // namespace annals::cli
