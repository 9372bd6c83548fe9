#pragma once
// StoreError: the event store could not do what was asked. Thrown by the
// store ports' operations; callers turn it into an Error with code
// store_unavailable and the store's sentence as the message.

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
  StoreError(StoreFailure kind, const std::string& message)
    : std::runtime_error(message), kind_(kind) {}

  StoreFailure kind() const noexcept { return kind_; }
  Error error() const { return Error{errc::store_unavailable, what()}; }

private:
  StoreFailure kind_;
};

} // namespace annals
