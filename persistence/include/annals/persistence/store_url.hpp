#pragma once
// One way to name a store in settings and on command lines:
//   postgresql://user@host:port/database   (or postgres://...) the shared PostgreSQL store
//   memory                                 an in-memory store (nothing kept)
//   anything else                          the path of an SQLite store file

#include "annals/persistence/event_store.hpp"

#include <memory>
#include <string>

namespace annals {

enum class StoreKind { sqlite, postgres, memory };

/// Which kind of store `url` names (by its form only; nothing is opened).
StoreKind store_kind(const std::string& url);

/// A provider for the store `url` names, with each backend's default
/// options. Opens nothing: connect() does.
std::shared_ptr<EventStoreProvider> open_store_url(const std::string& url);

} // namespace annals
