#pragma once
// AuditTrail: the port for the command audit trail, an append-only record of
// what became of each command. The journal writes it (outcomes of commands
// that appended nothing, in its next batch); tools and the runtime read it.
// Accepted commands' lines are written by EventLog::append, in the events'
// transaction.

#include "annals/event.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace annals {

/// One line of the command audit trail: what became of a command, who sent
/// it and when. The trail is append-only.
struct AuditRecord {
  std::int64_t id = 0;          ///< assigned by the store, increasing
  std::int64_t at_us = 0;       ///< set by the store when 0
  std::string principal;
  std::string correlation_id;
  std::string command_id;
  StreamId stream;
  std::string command;
  std::string outcome;          ///< accepted | replayed | rejected | denied | failed
  std::string code;             ///< the error code unless accepted
  std::string message;
  std::int64_t position = 0;    ///< the last event's position (accepted)
};

class AuditTrail {
public:
  virtual ~AuditTrail() = default;

  /// Appends audit records in one transaction.
  virtual void append_audit(const std::vector<AuditRecord>& records) = 0;
  /// Audit records with id >= from_id, oldest first.
  virtual std::vector<AuditRecord> audit_log(std::int64_t from_id, std::size_t max_count) = 0;
};

} // namespace annals
