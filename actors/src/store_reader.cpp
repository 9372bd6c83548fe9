#include "annals/actors/store_reader.hpp"

#include "annals/actors/messages.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

namespace annals::actors {

namespace {

struct ReaderState {
  std::unique_ptr<EventStore> store;
  static inline const char* name = "annals.store_reader";
};

ReadReply serve(EventStore& store, const ReadRequest& req) {
  ReadReply reply;
  try {
    switch (req.kind) {
      case ReadRequest::Kind::snapshot:
        reply.snapshot = store.load_snapshot(req.stream);
        break;
      case ReadRequest::Kind::stream:
        reply.events = store.read_stream(req.stream, req.from_version, req.max_count);
        break;
      case ReadRequest::Kind::idempotency_key:
        reply.key = store.find_idempotency_key(req.key);
        break;
      case ReadRequest::Kind::all:
        reply.events = store.read_all(req.from_version, req.max_count);
        break;
      case ReadRequest::Kind::dead_letters:
        reply.dead_letters = store.dead_letters(req.projection);
        break;
      case ReadRequest::Kind::projection_snapshot:
        reply.projection_snapshot = store.load_projection_snapshot(req.projection);
        break;
    }
  } catch (const StoreError& e) {
    reply.error = e.error();
  } catch (const std::exception& e) {
    reply.error = Error{errc::store_unavailable, e.what()};
  }
  return reply;
}

caf::behavior store_reader(caf::stateful_actor<ReaderState>* self,
                           std::shared_ptr<std::unique_ptr<EventStore>> store) {
  self->state.store = std::move(*store);
  return {
    [=](read_atom, const ReadRequest& req) { return serve(*self->state.store, req); },
  };
}

} // namespace

caf::actor spawn_store_reader(caf::actor_system& sys, std::unique_ptr<EventStore> store) {
  auto box = std::make_shared<std::unique_ptr<EventStore>>(std::move(store));
  return sys.spawn<caf::detached>(store_reader, box);
}

} // namespace annals::actors
