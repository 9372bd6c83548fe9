#pragma once
// Error: what every failure looks like to a caller, as a value: a stable,
// machine-readable code plus a sentence for humans.

#include <initializer_list>
#include <string>
#include <string_view>

namespace annals {

/// The error codes the runtime itself produces. Domain code rejects commands
/// with codes of its own ("insufficient_funds"); those pass through unchanged.
namespace errc {
/// The command envelope or its data is malformed: bad JSON, a missing field,
/// a wrong type, an empty or over-long id.
inline constexpr std::string_view invalid_command = "invalid_command";
/// No aggregate type of that name is registered.
inline constexpr std::string_view unknown_aggregate = "unknown_aggregate";
/// The aggregate type has no handler for that command type.
inline constexpr std::string_view unknown_command = "unknown_command";
/// The command's data (or an event it caused) is larger than the limit.
inline constexpr std::string_view payload_too_large = "payload_too_large";
/// expected_version did not match, or another writer kept winning the race.
inline constexpr std::string_view concurrency_conflict = "concurrency_conflict";
/// The idempotency key was used before for a different command.
inline constexpr std::string_view idempotency_conflict = "idempotency_conflict";
/// The event store cannot be written or read: locked, read-only, full,
/// corrupt, unreachable. The message says which.
inline constexpr std::string_view store_unavailable = "store_unavailable";
/// No answer within the caller's time limit. The command may still commit:
/// retry it with the same idempotency key to find out safely.
inline constexpr std::string_view timeout = "timeout";
/// The store failed while committing (an I/O or fsync error at COMMIT): the
/// command may have committed, and may show up after a restart even if it
/// cannot be read now. Retry it with the same idempotency key to find out
/// safely.
inline constexpr std::string_view outcome_unknown = "outcome_unknown";
/// The runtime is shutting down and takes no more work.
inline constexpr std::string_view shutting_down = "shutting_down";
/// Clustered nodes: this node does not hold the lease of the aggregate's
/// shard (any more: another node took it over, or it could not renew it), so
/// the store refused its append and nothing was written (G8). Retry: the
/// command goes to the shard's current owner.
inline constexpr std::string_view not_owner = "not_owner";
/// Clustered nodes: the node that owns the aggregate's shard cannot be
/// reached, and no other node has taken the shard over yet. Nothing was
/// written by this node; retry with the same idempotency key (safe) once the
/// lease is taken over (within the lease TTL).
inline constexpr std::string_view node_unavailable = "node_unavailable";
/// The authorization policy denied the command.
inline constexpr std::string_view forbidden = "forbidden";
/// Domain code threw, or a stored event could not be applied. A bug, not bad input.
inline constexpr std::string_view internal_error = "internal_error";
/// Too many commands are waiting for one aggregate.
inline constexpr std::string_view overloaded = "overloaded";
/// No projection of that name is registered.
inline constexpr std::string_view unknown_projection = "unknown_projection";
/// The projection has no query of that name.
inline constexpr std::string_view unknown_query = "unknown_query";
/// A query found nothing for its arguments (e.g. no such account).
inline constexpr std::string_view not_found = "not_found";
/// The query's arguments are missing or of the wrong type.
inline constexpr std::string_view invalid_query = "invalid_query";

/// Every code above, in the order they are declared.
std::initializer_list<std::string_view> all();
/// True for a code the runtime gives (one of all()); any other is a domain's.
bool is_runtime_code(std::string_view code);
} // namespace errc

struct Error {
  std::string code;
  std::string message;

  Error() = default;
  Error(std::string_view code, std::string message)
    : code(code), message(std::move(message)) {}

  bool is(std::string_view c) const { return code == c; }
  friend bool operator==(const Error& a, const Error& b) {
    return a.code == b.code && a.message == b.message;
  }
};

/// "code: message", for logs and exceptions.
std::string to_string(const Error& e);

} // namespace annals
