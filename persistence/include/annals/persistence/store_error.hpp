#pragma once
// StoreError: the event store could not do what was asked. Thrown by the
// store ports' operations; callers turn it into an Error with code
// store_unavailable (nothing was written) or, when a write failed at or
// after COMMIT, outcome_unknown (it may have been written), with the store's
// sentence as the message.

#include "annals/error.hpp"

#include <stdexcept>
#include <string>

namespace annals {

enum class StoreFailure {
  unavailable,  ///< cannot open or reach the file (missing directory, I/O error)
  locked,       ///< another connection holds the write lock longer than busy_timeout
  read_only,    ///< the file or its directory cannot be written
  full,         ///< the disk (or the configured size limit) is full
  corrupt,      ///< not an SQLite file, damaged pages, or unreadable stored data
  incompatible, ///< an SQLite file that is not an annals store, or from a newer version
  in_use        ///< another annals process holds the store's ownership lock (store_lock.hpp)
};

const char* to_string(StoreFailure f);

class StoreError : public std::runtime_error {
public:
  /// Whether the failed write may still have been written.
  enum class Outcome {
    not_written,  ///< failed before COMMIT (or COMMIT failed and was rolled back): nothing was kept
    unknown       ///< COMMIT itself failed: the transaction may be in the WAL and reappear after a restart
  };

  StoreError(StoreFailure kind, const std::string& message, Outcome outcome = Outcome::not_written)
    : std::runtime_error(message), kind_(kind), outcome_(outcome) {}

  StoreFailure kind() const noexcept { return kind_; }
  Outcome outcome() const noexcept { return outcome_; }
  Error error() const {
    return Error{outcome_ == Outcome::unknown ? errc::outcome_unknown : errc::store_unavailable, what()};
  }

private:
  StoreFailure kind_;
  Outcome outcome_;
};

} // namespace annals
