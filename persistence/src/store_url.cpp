#include "annals/persistence/store_url.hpp"

#include "annals/persistence/memory_event_store.hpp"
#include "annals/persistence/postgres_event_store.hpp"
#include "annals/persistence/sqlite_event_store.hpp"

namespace annals {

StoreKind store_kind(const std::string& url) {
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) return StoreKind::postgres;
  if (url == "memory") return StoreKind::memory;
  return StoreKind::sqlite;
}

std::shared_ptr<EventStoreProvider> open_store_url(const std::string& url) {
  switch (store_kind(url)) {
    case StoreKind::postgres: {
      PostgresStoreOptions o;
      o.url = url;
      return postgres_store(o);
    }
    case StoreKind::memory: return memory_store();
    case StoreKind::sqlite: break;
  }
  SqliteStoreOptions o;
  o.path = url;
  return sqlite_store(o);
}

} // namespace annals
