#pragma once
// An in-memory EventStore with the same semantics as the SQLite one, for unit
// tests of domain code and for runs that need no file. Every connection of
// one provider sees the same data; it is gone when the provider is.

#include "annals/persistence/event_store.hpp"

#include <memory>

namespace annals {

struct MemoryStoreOptions {
  std::size_t max_event_bytes = 1 << 20;
};

std::shared_ptr<EventStoreProvider> memory_store(MemoryStoreOptions options = {});

} // namespace annals
