#include "detail/append_rules.hpp"

#include "annals/quoted.hpp"

namespace annals {

Expected<CommandResult> IdempotencyRecord::replay_for(const std::string& other_fingerprint) const {
  if (other_fingerprint != fingerprint)
    return Error{errc::idempotency_conflict, "idempotency key '" + key + "' was already used for a different command (on "
                                               + stream.to_string() + ")"};
  CommandResult first = result;
  first.replayed = true;
  return first;
}

namespace append_rules {

AppendOutcome replay_or_conflict(const IdempotencyRecord& recorded, const std::string& fingerprint) {
  auto first = recorded.replay_for(fingerprint);
  if (!first) return first.error();
  AppendResult replay;
  replay.version = first->version;
  replay.replay = std::move(*first);
  return replay;
}

std::optional<Error> version_conflict(const AppendRequest& req, std::int64_t current) {
  if (current == req.expected_version) return std::nullopt;
  return Error{errc::concurrency_conflict, req.stream.to_string() + " is at version " + std::to_string(current)
                                             + "; the append expected version "
                                             + std::to_string(req.expected_version)};
}

Expected<std::vector<std::string>> checked_bodies(const AppendRequest& req, std::size_t max_event_bytes) {
  std::vector<std::string> bodies;
  bodies.reserve(req.events.size());
  for (const auto& ev : req.events) {
    if (!is_finite_json(ev.data))
      return Error{errc::internal_error, "event '" + ev.type + "' for " + req.stream.to_string()
                                           + " holds a number that is NaN or infinite, which JSON cannot store"};
    bodies.push_back(json::serialize(ev.data));
    if (bodies.back().size() > max_event_bytes)
      return Error{errc::payload_too_large, "event '" + ev.type + "' for " + req.stream.to_string() + " is "
                                              + std::to_string(bodies.back().size()) + " bytes; the limit is "
                                              + std::to_string(max_event_bytes)};
  }
  return bodies;
}

EventMetadata commit_metadata(const AppendRequest& req, std::int64_t now_us) {
  EventMetadata md = req.metadata;
  md.timestamp_us = now_us;
  return md;
}

Event committed_event(const AppendRequest& req, std::size_t i, const std::string& body, std::int64_t version,
                      std::int64_t position, const EventMetadata& metadata) {
  const NewEvent& ev = req.events[i];
  Event e;
  e.stream = req.stream;
  e.version = version;
  e.position = position;
  e.type = ev.type;
  e.schema_version = ev.schema_version;
  // The data as every later read will see it: JSON text does not keep a
  // number's kind (a uint64 1 is read back as int64 1), so the live path
  // (the aggregate, the bus, projections) gets the stored text parsed too.
  e.data = json::parse(body);
  e.metadata = metadata;
  return e;
}

AuditRecord accepted_audit(const AuditRecord& skeleton, const AppendResult& result, std::int64_t now_us) {
  AuditRecord rec = skeleton;
  rec.at_us = now_us;
  rec.outcome = "accepted";
  rec.position = result.events.empty() ? 0 : result.events.back().position;
  return rec;
}

IdempotencyRecord key_record(const AppendRequest& req, const AppendResult& result) {
  return IdempotencyRecord{req.idempotency_key.value_or(""), req.stream, req.fingerprint,
                           result.to_result(req.stream)};
}

Error not_owner(const AppendRequest& req) {
  const ShardFence& f = *req.fence;
  return Error{errc::not_owner, "node " + quoted(f.node) + " no longer holds shard " + std::to_string(f.shard)
                                  + " at epoch " + std::to_string(f.epoch) + " (its lease expired or another node"
                                  " took it over), so nothing was written for " + quoted(req.stream.to_string())
                                  + "; the command can be sent again: it goes to the shard's current owner"};
}

Error unchecked_fence(const AppendRequest& req) {
  return Error{errc::not_owner, "the append for " + quoted(req.stream.to_string())
                                  + " carries a shard lease, which this store cannot check; clustered nodes"
                                    " need the PostgreSQL store"};
}

Error changed_during_append(const StreamId& stream, const std::string& cause) {
  return Error{errc::concurrency_conflict, stream.to_string() + " changed during the append: " + cause};
}

} // namespace append_rules
} // namespace annals
