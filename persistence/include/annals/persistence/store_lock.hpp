#pragma once
// The store-ownership lock: which annals processes write an SQLite store.
//
// A sidecar file `<db>.annals-lock` beside the store carries a flock(2)
// lock. Every process that opens the store for writing holds it shared
// (several services may share one store); a tool whose writes are unsafe
// beside another writer (`annals dead-letters retry`, `annals rebuild`,
// `annals run` deleting a store) takes it exclusive. Nobody waits: a lock
// that cannot be had at once is a StoreError (in_use) naming the holder.
//
// flock, not fcntl: SQLite itself uses fcntl locks on the database, and an
// fcntl lock is dropped when ANY descriptor of the file is closed in the
// process. A flock lock belongs to its open file description and the kernel
// drops it when the process ends, however it ends: a stale lock cannot exist.
// The sidecar holds "pid program" lines of its holders, only for the message;
// it is never deleted (deleting it would let a second process lock a new
// file of the same name while the first still holds the old one).
//
// The lock is per process: opening the same store again in a process that
// already holds it (several connections of one runtime, a tool's own
// runtime under its exclusive lock) shares that hold. An exclusive lock is
// refused while the same process already has the store open for writing.

#include <memory>
#include <string>

namespace annals {

enum class StoreLockMode { shared, exclusive };

/// "<db_path>.annals-lock".
std::string store_lock_path(const std::string& db_path);

/// A hold of the store's lock; released when the last handle of this process
/// on that store goes. Empty (default-constructed) holds nothing.
class StoreLock {
public:
  StoreLock() = default;

  /// Takes the lock of the store at `db_path` without waiting. Throws
  /// StoreError(in_use) when another process holds it in a conflicting mode,
  /// with a sentence naming it ("... is open by another annals process (pid
  /// 1234, `bank_service`) ..."), and StoreError(unavailable) when the
  /// sidecar cannot be created. `advice` ends the in_use sentence of an
  /// exclusive lock (default: stop it, or do this through that process).
  static StoreLock acquire(const std::string& db_path, StoreLockMode mode, const std::string& advice = {});

  explicit operator bool() const { return static_cast<bool>(hold_); }
  StoreLockMode mode() const;

  struct Hold;  // internal: the per-process record of one locked sidecar

private:
  explicit StoreLock(std::shared_ptr<Hold> hold) : hold_(std::move(hold)) {}
  std::shared_ptr<Hold> hold_;
};

} // namespace annals
