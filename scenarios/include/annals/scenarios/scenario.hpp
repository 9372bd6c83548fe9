#pragma once
// Scenario: a scripted run against an annals runtime, read from a JSON file
// (the format is documented, step by step, in docs/scenarios.md). These are
// plain values: scenario_parser.hpp makes them, scenario_runner.hpp runs them.

#include "annals/fault_injector.hpp"
#include "annals/json.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace annals::scenarios {

/// A count a step expects: exactly, or within bounds.
struct CountExpectation {
  std::optional<std::int64_t> exactly;
  std::optional<std::int64_t> at_least;
  std::optional<std::int64_t> at_most;
  /// "" when `n` satisfies it, else what was expected ("exactly 3", "at least 1").
  std::string check(std::int64_t n) const;
};

/// What a command (each command of a `command` step) must come back with.
struct CommandExpectation {
  std::string status = "accepted";        ///< accepted | rejected | failed
  std::optional<std::string> code;        ///< the error code (rejected/failed)
  std::optional<std::vector<std::string>> events;  ///< the committed event types, in order
};

/// `command`: one command (optionally repeated: a client retrying).
struct CommandStep {
  std::string aggregate, id, command;
  json::object data;
  std::optional<std::string> idempotency_key;
  std::optional<std::int64_t> expected_version;
  std::string principal;
  int repeat = 1;
  CommandExpectation expect;
  std::string node = "n1";  ///< cluster scenarios: the node it is sent to
};

/// One entry of a load's command mix; `data` may hold templates (see docs).
struct LoadCommand {
  std::string command;
  json::value data;  ///< an object, with "{i}", "{n}" and {"random": [lo, hi]} templates
  int weight = 1;
};

/// `load`: N commands over M aggregates at concurrency C, from a seed.
struct LoadStep {
  std::string aggregate;
  std::string id = "{aggregate}-{i}";  ///< the instance ids ("{i}" = 1..aggregates)
  int aggregates = 1;
  int commands = 0;
  int concurrency = 1;
  std::uint64_t seed = 1;
  std::string pick = "random";          ///< how commands pick their aggregate: random | round_robin
  std::optional<LoadCommand> setup;     ///< sent once to each aggregate first (e.g. "open")
  std::vector<LoadCommand> mix;
  double retry_fraction = 0;            ///< share of commands a client sends twice
  bool idempotency_keys = true;         ///< every command carries a key (retries then replay)
  std::optional<CountExpectation> accepted, rejected, failed, replayed;
  std::vector<std::string> nodes{"n1"};  ///< cluster scenarios: command i goes to nodes[i % size]
};

/// `query`: ask a projection; check the answer (or the error).
struct Predicate {
  std::string path;  ///< JSON pointer into the result ("/balance"; "" = the result)
  std::string op;    ///< == != < <= > >= exists missing
  json::value value;
};
struct QueryStep {
  std::string projection, query;
  json::object args;
  bool read_your_writes = false;          ///< min_position = the last acknowledged command's position
  std::int64_t min_position = 0;
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<json::value> expect;      ///< every field given must match (objects recursively)
  std::optional<json::value> equals;      ///< the whole result must equal this
  std::vector<Predicate> that;
  std::optional<std::string> expect_error;  ///< the query must fail with this code
  std::string node = "n1";  ///< cluster scenarios: the node asked
};

/// `wait_until`: a projection ("*" = every one) reaches a condition.
struct WaitStep {
  std::string projection = "*";
  std::string condition = "caught_up";    ///< caught_up | running | restarted | parked | shards_settled (clusters)
  std::int64_t count = 1;                 ///< for restarted / parked: at least this many
  std::chrono::milliseconds timeout{10000};
};

/// `inject`: a fault.
struct InjectStep {
  std::string fault;  ///< crash_projector | fail_projector | delay_projector | clear_faults | restart_runtime
  std::string projection;
  EventMatch match;                     ///< fail_projector ("type" in the file is event_type)
  int times = 1;                        ///< fail_projector
  std::chrono::milliseconds delay{0};   ///< delay_projector (per event)
  bool wait = true;                     ///< crash_projector: wait until restarted and caught up
};

/// `reconcile`: a fresh copy of a projection compared with the live one.
/// Both skip the projection's parked events, so "equal" also requires that
/// none are parked; "equal_except_parked" expects equal copies with some.
struct ReconcileStep {
  std::string projection;
  bool expect_equal = true;
  bool except_parked = false;  ///< expect: "equal_except_parked"
};

/// `rebuild`: replace a projection by a copy built from the store.
struct RebuildStep {
  std::string projection;
};

/// `dead_letters`: check (and optionally retry) a projection's parked events.
struct DeadLettersStep {
  std::string projection;
  std::optional<CountExpectation> count;
  bool retry = false;
  std::string expect_retry = "ok";  ///< ok | fails
};

/// `inspect`: an aggregate instance's version and state.
struct InspectStep {
  std::string aggregate, id;
  std::optional<std::int64_t> version;
  std::optional<json::value> state;  ///< fields that must match
};

/// `stream`: read a stream back: versions 1..n without gaps, counts by type.
struct StreamStep {
  std::string aggregate, id;
  std::optional<std::int64_t> version;
  json::object types;  ///< {"deposited": 2000}: how many of each event type
};

/// `kill_node` (SIGKILL), `pause_node` (SIGSTOP), `resume_node` (SIGCONT),
/// `stop_node` (SIGTERM: a clean hand-back), `restart_node` (starts a node
/// that was killed or stopped again, with the same config): cluster scenarios.
struct NodeStep {
  std::string action;  ///< kill | pause | resume | stop | restart
  std::string node;
};

/// `report`: print the report so far.
struct ReportStep {};

/// `sleep`: wait (lets a delayed or restarting projector do its work).
struct SleepStep {
  std::chrono::milliseconds duration{0};
};

using StepBody = std::variant<CommandStep, LoadStep, QueryStep, WaitStep, InjectStep, ReconcileStep, RebuildStep,
                              DeadLettersStep, InspectStep, StreamStep, ReportStep, SleepStep, NodeStep>;

struct Step {
  std::size_t number = 0;  ///< 1-based, as in the log and in error messages
  std::string kind;        ///< "command", "load", ...
  std::string note;        ///< shown above the step in the log
  StepBody body;
};

/// Runtime settings a scenario may choose (everything else: defaults).
struct ScenarioSettings {
  std::optional<int> max_attempts;
  std::optional<std::chrono::milliseconds> initial_backoff, max_backoff, query_timeout, command_timeout;
  std::optional<std::size_t> bus_window, catch_up_batch;
};

/// The `"cluster"` section: the run starts a throwaway PostgreSQL and N
/// `annals node` processes on it instead of an in-process runtime.
struct ClusterSpec {
  int nodes = 3;  ///< named n1..nN
  int shards = 16;
  std::chrono::milliseconds lease_ttl{3000};
  bool tls = false;  ///< mutual TLS between the nodes (certificates made for the run)
  /// Passed to every node's config when given (docs/cluster.md).
  std::optional<std::chrono::milliseconds> heartbeat, member_timeout, connection_timeout, request_timeout;
  std::chrono::milliseconds start_timeout{60000};  ///< until every node serves and the shards are spread
  std::vector<std::string> node_names() const;
};

struct Scenario {
  std::string file;  ///< where it was read from ("" if from a string)
  std::string name;
  std::string description;
  std::vector<std::string> domains;
  ScenarioSettings settings;
  std::optional<ClusterSpec> cluster;  ///< set: a cluster scenario (docs/scenarios.md, "Clusters")
  std::vector<Step> steps;
};

} // namespace annals::scenarios
