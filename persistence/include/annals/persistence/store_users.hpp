#pragma once
// StoreUsers: the port for what uses a store, the aggregate types and
// projections that runtimes registered on it. The store tools load only the
// domains that use a store and name them when asked for anything else
// (docs/cli.md, "Which domains a tool loads").

#include <optional>
#include <set>
#include <string>

namespace annals {

struct StoreUsers {
  std::set<std::string> aggregates;   ///< aggregate type names
  std::set<std::string> projections;  ///< projection names
};

class StoreUsage {
public:
  virtual ~StoreUsage() = default;

  /// Adds these names to the record (names already in it stay as they
  /// are). Does nothing on a store opened read-only.
  virtual void record_users(const StoreUsers& users) = 0;
  /// The names recorded; nullopt for a store older than the record (an
  /// SQLite store of schema version 3, read without migrating it).
  virtual std::optional<StoreUsers> recorded_users() = 0;
};

} // namespace annals
