#include "annals/actors/store_reader.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <exception>
#include <utility>

namespace annals::actors {

namespace {

struct ReaderState {
  std::unique_ptr<EventStore> store;
  static inline const char* name = "annals.store_reader";
};

using Self = StoreReaderActor::stateful_pointer<ReaderState>;

// Runs one read; a failing store becomes the answer's Error.
template <class Read>
auto guarded(Read&& read) -> Expected<decltype(read())> {
  try {
    return read();
  } catch (const StoreError& e) {
    return e.error();
  } catch (const std::exception& e) {
    return Error{errc::store_unavailable, e.what()};
  }
}

// Each read takes the port it reads from.
Expected<std::vector<Event>> read(EventLog& log, const ReadStream& r) {
  return guarded([&] { return log.read_stream(r.stream, r.from_version, r.max_count); });
}
Expected<std::vector<Event>> read(EventLog& log, const ReadAll& r) {
  return guarded([&] { return log.read_all(r.from_position, r.max_count); });
}
Expected<std::optional<IdempotencyRecord>> read(EventLog& log, const FindIdempotencyKey& r) {
  return guarded([&] { return log.find_idempotency_key(r.key); });
}
Expected<std::optional<Snapshot>> read(AggregateSnapshotStore& snapshots, const LoadSnapshot& r) {
  return guarded([&] { return snapshots.load_snapshot(r.stream); });
}
Expected<std::vector<DeadLetter>> read(ProjectionStateStore& projections, const ReadDeadLetters& r) {
  return guarded([&] { return projections.dead_letters(r.projection); });
}
Expected<std::optional<ProjectionSnapshot>> read(ProjectionStateStore& projections, const LoadProjectionSnapshot& r) {
  return guarded([&] { return projections.load_projection_snapshot(r.projection); });
}

StoreReaderActor::behavior_type store_reader(Self self, std::shared_ptr<std::unique_ptr<EventStore>> store) {
  self->state.store = std::move(*store);
  EventStore* s = self->state.store.get();  // owned by the state, which outlives the behavior
  return {
    [=](const ReadStream& r) { return read(*s, r); },
    [=](const ReadAll& r) { return read(*s, r); },
    [=](const LoadSnapshot& r) { return read(*s, r); },
    [=](const FindIdempotencyKey& r) { return read(*s, r); },
    [=](const ReadDeadLetters& r) { return read(*s, r); },
    [=](const LoadProjectionSnapshot& r) { return read(*s, r); },
  };
}

} // namespace

StoreReaderActor spawn_store_reader(caf::actor_system& sys, std::unique_ptr<EventStore> store) {
  // A unique_ptr cannot be copied into the spawn arguments; hand it over in a shared box.
  auto box = std::make_shared<std::unique_ptr<EventStore>>(std::move(store));
  return sys.spawn<caf::detached>(store_reader, box);
}

} // namespace annals::actors
