#pragma once
// SQLite VFSes that wrap the default one (SQLite's own way to test I/O
// faults). FaultyVfs::name makes the next fsync of a WAL file fail on
// demand: open a store with SqliteStoreOptions::vfs = FaultyVfs::name and
// Durability::full (so every COMMIT syncs the WAL), then call
// fail_next_wal_syncs(n). FaultyVfs::no_shared_memory is a filesystem
// without shared memory (no xShm* methods), where WAL cannot be used.
//
// With a failed sync at COMMIT the frames of the transaction are already in
// the WAL file: this connection (and every other) sees the transaction as
// not committed, but a process that is killed before the WAL is rewritten
// leaves them there, and the next open recovers them. That is the "outcome
// unknown" of docs/guarantees.md.

#include <sqlite3.h>

#include <atomic>
#include <cstring>
#include <stdexcept>

namespace annals::test {

class FaultyVfs {
public:
  static constexpr const char* name = "annals-faulty-wal-sync";
  static constexpr const char* no_shared_memory = "annals-no-shared-memory";

  /// Registers the VFS once (not as the default) and returns it.
  static FaultyVfs& instance() {
    static FaultyVfs vfs;
    return vfs;
  }

  /// The next `n` syncs of a WAL file fail with SQLITE_IOERR_FSYNC.
  void fail_next_wal_syncs(int n) { fail_wal_syncs_ = n; }
  /// How many syncs of a WAL file failed so far.
  int wal_syncs_failed() const { return wal_syncs_failed_; }

private:
  struct File {
    sqlite3_file base;  // its pMethods is `methods_` or null
    bool wal;
    sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
  };

  FaultyVfs() {
    real_ = sqlite3_vfs_find(nullptr);
    if (!real_) throw std::runtime_error("no default SQLite VFS");
    vfs_ = *real_;
    vfs_.zName = name;
    vfs_.szOsFile = static_cast<int>(sizeof(File)) + real_->szOsFile;
    vfs_.xOpen = &open;
    vfs_.pNext = nullptr;
    std::memset(&methods_, 0, sizeof methods_);
    methods_.iVersion = 3;
    methods_.xClose = [](sqlite3_file* f) {
      auto* r = as(f)->real();
      return r->pMethods ? r->pMethods->xClose(r) : SQLITE_OK;
    };
    methods_.xRead = [](sqlite3_file* f, void* b, int n, sqlite3_int64 o) { return fwd(f)->pMethods->xRead(fwd(f), b, n, o); };
    methods_.xWrite = [](sqlite3_file* f, const void* b, int n, sqlite3_int64 o) {
      return fwd(f)->pMethods->xWrite(fwd(f), b, n, o);
    };
    methods_.xTruncate = [](sqlite3_file* f, sqlite3_int64 s) { return fwd(f)->pMethods->xTruncate(fwd(f), s); };
    methods_.xSync = [](sqlite3_file* f, int flags) {
      auto& self = instance();
      if (as(f)->wal && self.fail_wal_syncs_.load() > 0) {
        --self.fail_wal_syncs_;
        ++self.wal_syncs_failed_;
        return SQLITE_IOERR_FSYNC;
      }
      return fwd(f)->pMethods->xSync(fwd(f), flags);
    };
    methods_.xFileSize = [](sqlite3_file* f, sqlite3_int64* s) { return fwd(f)->pMethods->xFileSize(fwd(f), s); };
    methods_.xLock = [](sqlite3_file* f, int l) { return fwd(f)->pMethods->xLock(fwd(f), l); };
    methods_.xUnlock = [](sqlite3_file* f, int l) { return fwd(f)->pMethods->xUnlock(fwd(f), l); };
    methods_.xCheckReservedLock = [](sqlite3_file* f, int* r) { return fwd(f)->pMethods->xCheckReservedLock(fwd(f), r); };
    methods_.xFileControl = [](sqlite3_file* f, int op, void* a) { return fwd(f)->pMethods->xFileControl(fwd(f), op, a); };
    methods_.xSectorSize = [](sqlite3_file* f) { return fwd(f)->pMethods->xSectorSize(fwd(f)); };
    methods_.xDeviceCharacteristics = [](sqlite3_file* f) { return fwd(f)->pMethods->xDeviceCharacteristics(fwd(f)); };
    methods_.xShmMap = [](sqlite3_file* f, int i, int sz, int e, void volatile** p) {
      return fwd(f)->pMethods->xShmMap(fwd(f), i, sz, e, p);
    };
    methods_.xShmLock = [](sqlite3_file* f, int o, int n, int fl) { return fwd(f)->pMethods->xShmLock(fwd(f), o, n, fl); };
    methods_.xShmBarrier = [](sqlite3_file* f) { fwd(f)->pMethods->xShmBarrier(fwd(f)); };
    methods_.xShmUnmap = [](sqlite3_file* f, int d) { return fwd(f)->pMethods->xShmUnmap(fwd(f), d); };
    methods_.xFetch = [](sqlite3_file* f, sqlite3_int64 o, int n, void** p) { return fwd(f)->pMethods->xFetch(fwd(f), o, n, p); };
    methods_.xUnfetch = [](sqlite3_file* f, sqlite3_int64 o, void* p) { return fwd(f)->pMethods->xUnfetch(fwd(f), o, p); };
    // Version 1 I/O methods have no shared memory: SQLite then keeps the old
    // journal mode when asked for WAL.
    no_shm_methods_ = methods_;
    no_shm_methods_.iVersion = 1;
    no_shm_methods_.xShmMap = nullptr;
    no_shm_methods_.xShmLock = nullptr;
    no_shm_methods_.xShmBarrier = nullptr;
    no_shm_methods_.xShmUnmap = nullptr;
    no_shm_methods_.xFetch = nullptr;
    no_shm_methods_.xUnfetch = nullptr;
    no_shm_vfs_ = vfs_;
    no_shm_vfs_.zName = no_shared_memory;
    if (sqlite3_vfs_register(&vfs_, 0) != SQLITE_OK || sqlite3_vfs_register(&no_shm_vfs_, 0) != SQLITE_OK)
      throw std::runtime_error("cannot register the test VFSes");
  }

  static File* as(sqlite3_file* f) { return reinterpret_cast<File*>(f); }
  static sqlite3_file* fwd(sqlite3_file* f) { return as(f)->real(); }

  static int open(sqlite3_vfs* vfs, sqlite3_filename path, sqlite3_file* f, int flags, int* out_flags) {
    auto& self = instance();
    File* file = as(f);
    file->base.pMethods = nullptr;
    file->wal = (flags & SQLITE_OPEN_WAL) != 0;
    const int rc = self.real_->xOpen(self.real_, path, file->real(), flags, out_flags);
    if (file->real()->pMethods) file->base.pMethods = vfs == &self.no_shm_vfs_ ? &self.no_shm_methods_ : &self.methods_;
    return rc;
  }

  sqlite3_vfs* real_ = nullptr;
  sqlite3_vfs vfs_{};
  sqlite3_io_methods methods_{};
  sqlite3_vfs no_shm_vfs_{};
  sqlite3_io_methods no_shm_methods_{};
  std::atomic<int> fail_wal_syncs_{0};
  std::atomic<int> wal_syncs_failed_{0};
};

} // namespace annals::test
