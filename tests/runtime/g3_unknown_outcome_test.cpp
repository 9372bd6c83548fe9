// G1/G3 when the store cannot say whether a COMMIT happened: the caller is
// told outcome_unknown (not "not written"), a retry with the same key finds
// out safely (the first result if it landed, one execution if it did not),
// and the aggregate re-reads its stream instead of appending on a version
// that may be stale.

#include "faulty_vfs.hpp"
#include "runtime_fixture.hpp"

#include <annals/persistence/memory_event_store.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>

using namespace annals;
using namespace annals::test;

namespace {

// What the test's store decorator shares between its connections.
struct LostAcknowledgements {
  std::atomic<int> to_lose{0};        // the next n append batches commit, then report outcome unknown
  std::atomic<int> stale_appends{0};  // appends whose expected version was behind the stream
};

// A connection that forwards to a real one, but can lose the answer of a
// committed append: COMMIT happened, the caller hears outcome_unknown (as
// after an fsync error whose transaction a restart recovers). It also counts
// appends sent on a stale expected version.
class LosingStore final : public EventStore {
public:
  LosingStore(std::unique_ptr<EventStore> inner, std::shared_ptr<LostAcknowledgements> shared)
    : inner_(std::move(inner)), shared_(std::move(shared)) {}

  std::vector<AppendOutcome> append(const std::vector<AppendRequest>& batch) override {
    for (const auto& req : batch)
      if (req.expected_version < inner_->stream_version(req.stream)) ++shared_->stale_appends;
    auto out = inner_->append(batch);
    if (shared_->to_lose.load() > 0) {
      --shared_->to_lose;
      throw StoreError(StoreFailure::unavailable, "the acknowledgement of this commit was lost (test); retry with the same idempotency key",
                       StoreError::Outcome::unknown);
    }
    return out;
  }
  std::vector<Event> read_stream(const StreamId& s, std::int64_t from, std::size_t n) override {
    return inner_->read_stream(s, from, n);
  }
  std::vector<Event> read_all(std::int64_t from, std::size_t n) override { return inner_->read_all(from, n); }
  std::int64_t head_position() override { return inner_->head_position(); }
  std::int64_t stream_version(const StreamId& s) override { return inner_->stream_version(s); }
  std::optional<IdempotencyRecord> find_idempotency_key(const std::string& key) override {
    return inner_->find_idempotency_key(key);
  }
  std::int64_t event_count() override { return inner_->event_count(); }
  std::vector<StreamInfo> streams(const std::string& aggregate, const std::optional<StreamId>& after,
                                  std::size_t n) override {
    return inner_->streams(aggregate, after, n);
  }
  std::optional<Snapshot> load_snapshot(const StreamId& s) override { return inner_->load_snapshot(s); }
  void save_snapshot(const Snapshot& snap) override { inner_->save_snapshot(snap); }
  void park_event(const DeadLetter& letter) override { inner_->park_event(letter); }
  std::vector<DeadLetter> dead_letters(const std::string& p) override { return inner_->dead_letters(p); }
  bool remove_dead_letter(const std::string& p, std::int64_t pos) override { return inner_->remove_dead_letter(p, pos); }
  bool unpark_retried(const std::string& p, std::int64_t pos, const std::optional<ProjectionSnapshot>& snap) override {
    return inner_->unpark_retried(p, pos, snap);
  }
  std::optional<ProjectionSnapshot> load_projection_snapshot(const std::string& p) override {
    return inner_->load_projection_snapshot(p);
  }
  void save_projection_snapshot(const ProjectionSnapshot& snap) override { inner_->save_projection_snapshot(snap); }
  void append_audit(const std::vector<AuditRecord>& records) override { inner_->append_audit(records); }
  std::vector<AuditRecord> audit_log(std::int64_t from, std::size_t n) override { return inner_->audit_log(from, n); }
  std::vector<std::string> aggregate_types() override { return inner_->aggregate_types(); }
  std::vector<std::string> event_types() override { return inner_->event_types(); }
  void record_users(const StoreUsers& users) override { inner_->record_users(users); }
  std::optional<StoreUsers> recorded_users() override { return inner_->recorded_users(); }

private:
  std::unique_ptr<EventStore> inner_;
  std::shared_ptr<LostAcknowledgements> shared_;
};

class LosingProvider final : public EventStoreProvider {
public:
  LosingProvider(std::shared_ptr<EventStoreProvider> inner, std::shared_ptr<LostAcknowledgements> shared)
    : inner_(std::move(inner)), shared_(std::move(shared)) {}
  std::unique_ptr<EventStore> connect() const override {
    return std::make_unique<LosingStore>(inner_->connect(), shared_);
  }
  std::string describe() const override { return "losing:" + inner_->describe(); }

private:
  std::shared_ptr<EventStoreProvider> inner_;
  std::shared_ptr<LostAcknowledgements> shared_;
};

void require_outcome_unknown(const CommandResult& r) {
  INFO(r.to_json());
  REQUIRE(r.failed());
  CHECK(r.code() == errc::outcome_unknown);
  CHECK_THAT(r.error->message, Catch::Contains("retry with the same idempotency key"));
}

} // namespace

SCENARIO_METHOD(RuntimeFixture,
                "G3 a COMMIT that fails with an unknown outcome is reported as outcome_unknown, and a retry with the "
                "same key executes once if it did not land or returns the first result if it did") {
  auto& vfs = FaultyVfs::instance();
  GIVEN("a runtime on an SQLite store that syncs every COMMIT, where a WAL fsync can be made to fail") {
    SqliteStoreOptions store;
    store.vfs = FaultyVfs::name;
    store.durability = Durability::full;
    auto o = options(store);
    o.audit = false;  // nothing else writes after the failed COMMIT, so its WAL frames stay as a crash finds them
    auto rt = bank_runtime(std::move(o));
    REQUIRE(rt->execute(open_account("acc-u")).accepted());

    WHEN("the fsync at the COMMIT of a deposit with an idempotency key fails") {
      vfs.fail_next_wal_syncs(1);
      auto first = rt->execute(deposit("acc-u", 40, "pay-u"));
      vfs.fail_next_wal_syncs(0);

      THEN("the caller is told outcome_unknown, not store_unavailable") { require_outcome_unknown(first); }

      AND_WHEN("the caller retries with the same key in the same process, where the commit did not land") {
        auto retry = rt->execute(deposit("acc-u", 40, "pay-u"));
        THEN("the deposit executes once") {
          INFO(retry.to_json());
          REQUIRE(retry.accepted());
          CHECK_FALSE(retry.replayed);
          CHECK(retry.version == 2);
          CHECK(balance(*rt, "acc-u") == 40);
          CHECK(stored_events() == 2);
          auto again = rt->execute(deposit("acc-u", 40, "pay-u"));
          CHECK(again.replayed);
          CHECK(stored_events() == 2);
        }
      }

      AND_WHEN("the process crashed right then and restarted, so the commit did land") {
        // The files as a SIGKILL at that moment leaves them.
        const std::string crashed = dir.file("crashed.db");
        std::filesystem::copy_file(db, crashed);
        std::filesystem::copy_file(db + "-wal", crashed + "-wal");
        RuntimeOptions after;
        after.store = sqlite_store({crashed});
        after.command_timeout = std::chrono::seconds(20);
        auto recovered = bank_runtime(std::move(after));
        auto retry = recovered->execute(deposit("acc-u", 40, "pay-u"));
        THEN("a retry with the same key returns the first result and deposits nothing more") {
          INFO(retry.to_json());
          REQUIRE(retry.accepted());
          CHECK(retry.replayed);
          CHECK(retry.version == 2);
          CHECK(balance(*recovered, "acc-u") == 40);
          CHECK(open_sqlite_store({crashed})->event_count() == 2);
        }
      }
    }
  }
}

SCENARIO_METHOD(RuntimeFixture, "G3 after an append of unknown outcome the aggregate re-reads its stream before the "
                                "next command and never appends on a stale version") {
  GIVEN("a runtime whose store commits an append but loses its acknowledgement (outcome_unknown)") {
    auto lost = std::make_shared<LostAcknowledgements>();
    RuntimeOptions o;
    o.store = std::make_shared<LosingProvider>(memory_store(), lost);
    o.command_timeout = std::chrono::seconds(20);
    auto rt = bank_runtime(std::move(o));
    REQUIRE(rt->execute(open_account("acc-l")).accepted());

    WHEN("a keyed deposit commits at version 2 but its caller hears outcome_unknown") {
      lost->to_lose = 1;
      require_outcome_unknown(rt->execute(deposit("acc-l", 40, "pay-l")));
      REQUIRE(rt->read_stream({"account", "acc-l"}).size() == 2);  // it did land

      THEN("a retry with the same key returns the first result") {
        auto retry = rt->execute(deposit("acc-l", 40, "pay-l"));
        INFO(retry.to_json());
        REQUIRE(retry.accepted());
        CHECK(retry.replayed);
        CHECK(retry.version == 2);
        CHECK(balance(*rt, "acc-l") == 40);
      }
      THEN("a command expecting version 2 is accepted: the aggregate knows the stream is at 2") {
        auto next = rt->execute(account_command("acc-l", "deposit", {{"amount", 5}}, std::nullopt, 2));
        INFO(next.to_json());
        REQUIRE(next.accepted());
        CHECK(next.version == 3);
      }
      THEN("the next commands append on the stream's real version, never on the stale one") {
        REQUIRE(rt->execute(deposit("acc-l", 5)).accepted());
        REQUIRE(rt->execute(deposit("acc-l", 6)).accepted());
        CHECK(lost->stale_appends == 0);
        CHECK(balance(*rt, "acc-l") == 51);
        CHECK(rt->read_stream({"account", "acc-l"}).size() == 4);
      }
    }
  }
}
