// The store-ownership lock (store_lock.hpp): flock(2) on `<db>.annals-lock`,
// one hold per process and store, shared by every handle of that process.
#include "annals/persistence/store_lock.hpp"

#include "annals/persistence/store_error.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace annals {

namespace {

using Key = std::pair<dev_t, ino_t>;  // the sidecar file, however its path is spelled

struct Registry {
  std::mutex mtx;
  std::map<Key, std::weak_ptr<StoreLock::Hold>> holds;
};

// Never destroyed: holds may be released during static destruction.
Registry& registry() {
  static auto* r = new Registry;
  return *r;
}

std::string program_name() {
  const char* name = program_invocation_short_name;
  return name && *name ? name : "unknown";
}

bool alive(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

// The sidecar's text, at most about `limit` bytes of it.
std::string read_sidecar(int fd, std::size_t limit) {
  std::string text;
  char buf[4096];
  for (off_t at = 0; text.size() < limit;) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, at);
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    at += n;
  }
  return text;
}

// "pid 1234, `bank_service`; pid 99, `annals`": the holders the
// sidecar names that still run (it may list some that have ended).
std::string holders(int fd) {
  const std::string text = read_sidecar(fd, std::size_t{1} << 20);
  std::istringstream in(text);
  std::set<pid_t> shown;
  std::string out;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    long pid = 0;
    std::string program;
    if (!(fields >> pid >> program)) continue;
    if (pid == ::getpid() || !alive(static_cast<pid_t>(pid)) || !shown.insert(static_cast<pid_t>(pid)).second)
      continue;
    out += (out.empty() ? "" : "; ") + std::string("pid ") + std::to_string(pid) + ", `" + program + "`";
  }
  return out.empty() ? std::string("pid unknown") : out;
}

void write_holder_line(int fd) {
  const std::string line = std::to_string(::getpid()) + " " + program_name() + "\n";
  // Best effort: the line only improves another process's error message.
  if (::write(fd, line.data(), line.size()) < 0) return;
}

// Rewrites the sidecar with only the lines of processes that still run.
void compact_holders(int fd) {
  const std::string text = read_sidecar(fd, std::size_t{4} << 20);
  std::istringstream in(text);
  std::string kept;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    long pid = 0;
    std::string program;
    if (fields >> pid >> program && alive(static_cast<pid_t>(pid))) kept += line + "\n";
  }
  if (::ftruncate(fd, 0) != 0) return;
  if (!kept.empty() && ::write(fd, kept.data(), kept.size()) < 0) return;
}

StoreError in_use(const std::string& db, int fd, StoreLockMode wanted, const std::string& advice) {
  if (wanted == StoreLockMode::exclusive)
    return StoreError(StoreFailure::in_use,
                      "the store '" + db + "' is open by another annals process (" + holders(fd) + "): "
                        + (advice.empty() ? "stop it first, or do this through that process (its HTTP API or "
                                            "embedded runtime)"
                                          : advice));
  return StoreError(StoreFailure::in_use, "the store '" + db + "' is locked for exclusive use by another annals "
                                            "process (" + holders(fd) + "): wait until it has finished");
}

} // namespace

struct StoreLock::Hold {
  int fd = -1;
  Key key{};
  StoreLockMode mode = StoreLockMode::shared;

  Hold() = default;
  Hold(const Hold&) = delete;
  Hold& operator=(const Hold&) = delete;
  ~Hold() {
    {
      auto& r = registry();
      std::lock_guard<std::mutex> lock(r.mtx);
      auto it = r.holds.find(key);
      if (it != r.holds.end() && it->second.expired()) r.holds.erase(it);
    }
    if (fd >= 0) ::close(fd);  // releases the flock
  }
};

std::string store_lock_path(const std::string& db_path) { return db_path + ".annals-lock"; }

StoreLockMode StoreLock::mode() const { return hold_ ? hold_->mode : StoreLockMode::shared; }

StoreLock StoreLock::acquire(const std::string& db_path, StoreLockMode mode, const std::string& advice) {
  const std::string path = store_lock_path(db_path);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int e = errno;
    const std::string why = "cannot create the lock file '" + path + "' beside the store: " + std::strerror(e);
    throw StoreError(e == EACCES || e == EROFS || e == EPERM ? StoreFailure::read_only : StoreFailure::unavailable,
                     why);
  }
  auto hold = std::make_shared<Hold>();
  hold->fd = fd;  // closed by the hold from here on, also on the error paths
  hold->mode = mode;
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    throw StoreError(StoreFailure::unavailable, "cannot read the lock file '" + path + "': " + std::strerror(errno));
  hold->key = Key{st.st_dev, st.st_ino};

  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mtx);
  auto it = r.holds.find(hold->key);
  if (it != r.holds.end()) {
    if (auto existing = it->second.lock()) {
      if (mode == StoreLockMode::exclusive && existing->mode != StoreLockMode::exclusive)
        throw StoreError(StoreFailure::in_use, "the store '" + db_path + "' is already open for writing in this "
                                                 "process: close it first");
      return StoreLock(std::move(existing));  // this process holds it already; `hold` closes its descriptor
    }
  }
  // A shared acquirer never takes the exclusive lock, not even for a moment:
  // flock converts a lock by dropping and re-taking it, so a brief EX->SH step
  // made a second writer starting at the same time see "exclusive use".
  const int how = mode == StoreLockMode::exclusive ? LOCK_EX : LOCK_SH;
  if (::flock(fd, how | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) throw in_use(db_path, fd, mode, advice);
    throw StoreError(StoreFailure::unavailable, "cannot lock '" + path + "': " + std::strerror(errno));
  }
  if (mode == StoreLockMode::exclusive) {
    // Alone: the sidecar names only this process from now on.
    if (::ftruncate(fd, 0) != 0) {
      // Keep the old lines; holders() skips those that have ended.
    }
  } else if (st.st_size > (64 << 10)) {
    // Writers only append; past 64 KiB drop the lines of processes that ended.
    // Best effort: a line another writer appends meanwhile may be lost, which
    // only makes a later error message name one holder fewer.
    compact_holders(fd);
  }
  write_holder_line(fd);
  r.holds[hold->key] = hold;
  return StoreLock(std::move(hold));
}

} // namespace annals
