#pragma once
// Parking's bookkeeping: failures counted per event position, and the
// positions parked (dead letters), which every projector skips. An event is
// due for parking once it failed max_attempts times; it counts as parked only
// once the store has written it (mark_parked). Pure, no CAF.

#include <cstdint>
#include <map>
#include <set>
#include <utility>

namespace annals::actors::detail {

class FailureLedger {
public:
  explicit FailureLedger(int max_attempts = 3) : max_attempts_(max_attempts < 1 ? 1 : max_attempts) {}

  /// One more failure of the event at `position`: its count so far.
  int record_failure(std::int64_t position) { return ++attempts_[position]; }
  /// Has the event failed often enough to be parked?
  bool due(std::int64_t position) const {
    auto it = attempts_.find(position);
    return it != attempts_.end() && it->second >= max_attempts_;
  }

  /// The store has parked it: projectors skip it from now on.
  void mark_parked(std::int64_t position) {
    parked_.insert(position);
    attempts_.erase(position);
  }
  /// Retried successfully: no longer parked.
  void unpark(std::int64_t position) { parked_.erase(position); }
  /// What the store lists as parked (read again before each projector starts).
  void replace_parked(std::set<std::int64_t> parked) {
    for (auto p : parked) attempts_.erase(p);
    parked_ = std::move(parked);
  }

  bool is_parked(std::int64_t position) const { return parked_.count(position) > 0; }
  const std::set<std::int64_t>& parked() const { return parked_; }

private:
  int max_attempts_;
  std::map<std::int64_t, int> attempts_;
  std::set<std::int64_t> parked_;
};

} // namespace annals::actors::detail
