#include "annals/persistence/memory_event_store.hpp"

#include "detail/append_rules.hpp"

#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <utility>

namespace annals {

namespace {

struct MemoryData {
  std::mutex mtx;
  std::vector<Event> log;                                   // position i+1 at index i
  std::map<StreamId, std::vector<std::size_t>> streams;      // indexes into log
  std::map<StreamId, Snapshot> snapshots;
  std::map<std::string, IdempotencyRecord> keys;
  std::map<std::pair<std::string, std::int64_t>, DeadLetter> dead_letters;  // by (projection, position)
  std::map<std::string, ProjectionSnapshot> projection_snapshots;
  std::vector<AuditRecord> audit;                            // id i+1 at index i
  StoreUsers users;
  MemoryStoreOptions opts;
};

class MemoryEventStore final : public EventStore {
public:
  explicit MemoryEventStore(std::shared_ptr<MemoryData> d) : d_(std::move(d)) {}

  std::vector<AppendOutcome> append(const std::vector<AppendRequest>& batch) override {
    std::lock_guard<std::mutex> lock(d_->mtx);
    std::vector<AppendOutcome> out;
    out.reserve(batch.size());
    const std::int64_t now = now_us();
    for (const auto& req : batch) out.push_back(append_one(req, now));
    return out;
  }

  std::vector<Event> read_stream(const StreamId& s, std::int64_t from_version,
                                 std::size_t max_count) override {
    std::lock_guard<std::mutex> lock(d_->mtx);
    std::vector<Event> out;
    auto it = d_->streams.find(s);
    if (it == d_->streams.end()) return out;
    for (std::size_t idx : it->second) {
      const Event& e = d_->log[idx];
      if (e.version < from_version) continue;
      if (out.size() >= max_count) break;
      out.push_back(e);
    }
    return out;
  }

  std::vector<Event> read_all(std::int64_t from_position, std::size_t max_count) override {
    std::lock_guard<std::mutex> lock(d_->mtx);
    std::vector<Event> out;
    std::size_t start = from_position > 0 ? static_cast<std::size_t>(from_position - 1) : 0;
    for (std::size_t i = start; i < d_->log.size() && out.size() < max_count; ++i)
      out.push_back(d_->log[i]);
    return out;
  }

  std::int64_t head_position() override {
    std::lock_guard<std::mutex> lock(d_->mtx);
    return static_cast<std::int64_t>(d_->log.size());
  }

  std::int64_t stream_version(const StreamId& s) override {
    std::lock_guard<std::mutex> lock(d_->mtx);
    return version_of(s);
  }

  std::optional<Snapshot> load_snapshot(const StreamId& s) override {
    std::lock_guard<std::mutex> lock(d_->mtx);
    auto it = d_->snapshots.find(s);
    if (it == d_->snapshots.end()) return std::nullopt;
    return it->second;
  }

  void save_snapshot(const Snapshot& snap) override {
    std::lock_guard<std::mutex> lock(d_->mtx);
    auto it = d_->snapshots.find(snap.stream);
    if (it != d_->snapshots.end() && it->second.version > snap.version
        && it->second.snapshot_version == snap.snapshot_version)
      return;
    Snapshot& stored = d_->snapshots[snap.stream] = snap;
    if (stored.taken_at_us == 0) stored.taken_at_us = now_us();
  }

  std::optional<IdempotencyRecord> find_idempotency_key(const std::string& key) override {
    std::lock_guard<std::mutex> lock(d_->mtx);
    auto it = d_->keys.find(key);
    if (it == d_->keys.end()) return std::nullopt;
    return it->second;
  }

  std::int64_t event_count() override { return head_position(); }

  std::vector<StreamInfo> streams(const std::string& aggregate, const std::optional<StreamId>& after,
                                  std::size_t max_count) override {
    std::lock_guard<std::mutex> lock(d_->mtx);
    std::vector<StreamInfo> out;
    auto it = after ? d_->streams.upper_bound(*after) : d_->streams.begin();
    if (!aggregate.empty() && (!after || after->aggregate < aggregate))
      it = d_->streams.lower_bound(StreamId{aggregate, ""});
    for (; it != d_->streams.end() && out.size() < max_count; ++it) {
      if (!aggregate.empty() && it->first.aggregate != aggregate) break;
      if (it->second.empty()) continue;  // an append of no events
      const Event& first = d_->log[it->second.front()];
      const Event& last = d_->log[it->second.back()];
      out.push_back(StreamInfo{it->first, last.version, static_cast<std::int64_t>(it->second.size()),
                               first.position, last.position});
    }
    return out;
  }

  std::vector<std::string> aggregate_types() override {
    std::lock_guard<std::mutex> lock(d_->mtx);
    std::vector<std::string> out;
    for (const auto& [stream, index] : d_->streams)
      if (!index.empty() && (out.empty() || out.back() != stream.aggregate)) out.push_back(stream.aggregate);
    return out;
  }

  std::vector<std::string> event_types() override {
    std::lock_guard<std::mutex> lock(d_->mtx);
    std::set<std::string> types;
    for (const auto& e : d_->log) types.insert(e.type);
    return {types.begin(), types.end()};
  }

  void record_users(const StoreUsers& users) override {
    std::lock_guard<std::mutex> lock(d_->mtx);
    d_->users.aggregates.insert(users.aggregates.begin(), users.aggregates.end());
    d_->users.projections.insert(users.projections.begin(), users.projections.end());
  }

  std::optional<StoreUsers> recorded_users() override {
    std::lock_guard<std::mutex> lock(d_->mtx);
    return d_->users;
  }

  void park_event(const DeadLetter& letter) override {
    std::lock_guard<std::mutex> lock(d_->mtx);
    DeadLetter& d = d_->dead_letters[{letter.projection, letter.position}];
    d = letter;
    if (d.parked_at_us == 0) d.parked_at_us = now_us();
  }

  std::vector<DeadLetter> dead_letters(const std::string& projection) override {
    std::lock_guard<std::mutex> lock(d_->mtx);
    std::vector<DeadLetter> out;
    if (projection.empty()) {
      for (const auto& [key, d] : d_->dead_letters) out.push_back(d);
      return out;
    }
    for (auto it = d_->dead_letters.lower_bound({projection, std::numeric_limits<std::int64_t>::min()});
         it != d_->dead_letters.end() && it->first.first == projection; ++it)
      out.push_back(it->second);
    return out;
  }

  bool remove_dead_letter(const std::string& projection, std::int64_t position) override {
    std::lock_guard<std::mutex> lock(d_->mtx);
    return d_->dead_letters.erase({projection, position}) > 0;
  }

  bool unpark_retried(const std::string& projection, std::int64_t position,
                      const std::optional<ProjectionSnapshot>& snapshot) override {
    std::lock_guard<std::mutex> lock(d_->mtx);
    if (d_->dead_letters.erase({projection, position}) == 0) return false;
    if (snapshot) {
      ProjectionSnapshot& stored = d_->projection_snapshots[snapshot->projection];
      stored = *snapshot;
      if (stored.taken_at_us == 0) stored.taken_at_us = now_us();
    }
    return true;
  }

  std::optional<ProjectionSnapshot> load_projection_snapshot(const std::string& projection) override {
    std::lock_guard<std::mutex> lock(d_->mtx);
    auto it = d_->projection_snapshots.find(projection);
    if (it == d_->projection_snapshots.end()) return std::nullopt;
    return it->second;
  }

  void save_projection_snapshot(const ProjectionSnapshot& snap) override {
    std::lock_guard<std::mutex> lock(d_->mtx);
    auto it = d_->projection_snapshots.find(snap.projection);
    if (it != d_->projection_snapshots.end() && it->second.position > snap.position
        && it->second.snapshot_version == snap.snapshot_version)
      return;
    ProjectionSnapshot& stored = d_->projection_snapshots[snap.projection];
    stored = snap;
    if (stored.taken_at_us == 0) stored.taken_at_us = now_us();
  }

  void append_audit(const std::vector<AuditRecord>& records) override {
    std::lock_guard<std::mutex> lock(d_->mtx);
    for (const auto& rec : records) add_audit(rec);
  }

  std::vector<AuditRecord> audit_log(std::int64_t from_id, std::size_t max_count) override {
    std::lock_guard<std::mutex> lock(d_->mtx);
    std::vector<AuditRecord> out;
    for (std::size_t i = from_id > 0 ? static_cast<std::size_t>(from_id - 1) : 0;
         i < d_->audit.size() && out.size() < max_count; ++i)
      out.push_back(d_->audit[i]);
    return out;
  }

private:
  void add_audit(AuditRecord rec) {
    rec.id = static_cast<std::int64_t>(d_->audit.size()) + 1;
    if (rec.at_us == 0) rec.at_us = now_us();
    d_->audit.push_back(std::move(rec));
  }

  std::int64_t version_of(const StreamId& s) const {
    auto it = d_->streams.find(s);
    if (it == d_->streams.end() || it->second.empty()) return 0;
    return d_->log[it->second.back()].version;
  }

  // One append under the store's lock; the rules are the shared ones.
  AppendOutcome append_one(const AppendRequest& req, std::int64_t now) {
    if (req.fence) return append_rules::unchecked_fence(req);  // no leases here
    auto verdict = append_rules::check_append(
      req, d_->opts.max_event_bytes,
      [&](const std::string& key) -> std::optional<IdempotencyRecord> {
        auto k = d_->keys.find(key);
        if (k == d_->keys.end()) return std::nullopt;
        return k->second;
      },
      [&](const StreamId& s) { return version_of(s); });
    if (verdict.decided) return std::move(*verdict.decided);
    AppendResult res;
    res.version = verdict.checked.current_version;
    const EventMetadata md = append_rules::commit_metadata(req, now);
    auto& index = d_->streams[req.stream];
    for (std::size_t i = 0; i < req.events.size(); ++i) {
      Event e = append_rules::committed_event(req, i, verdict.checked.bodies[i], ++res.version,
                                              static_cast<std::int64_t>(d_->log.size()) + 1, md);
      index.push_back(d_->log.size());
      d_->log.push_back(e);
      res.events.push_back(std::move(e));
    }
    if (req.audit) add_audit(append_rules::accepted_audit(*req.audit, res, now));
    if (req.idempotency_key) d_->keys[*req.idempotency_key] = append_rules::key_record(req, res);
    return res;
  }

  std::shared_ptr<MemoryData> d_;
};

class MemoryProvider final : public EventStoreProvider {
public:
  explicit MemoryProvider(MemoryStoreOptions o) : d_(std::make_shared<MemoryData>()) { d_->opts = o; }
  std::unique_ptr<EventStore> connect() const override { return std::make_unique<MemoryEventStore>(d_); }
  std::string describe() const override { return "memory"; }

private:
  std::shared_ptr<MemoryData> d_;
};

} // namespace

std::shared_ptr<EventStoreProvider> memory_store(MemoryStoreOptions options) {
  return std::make_shared<MemoryProvider>(options);
}

} // namespace annals
