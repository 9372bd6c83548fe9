#pragma once
// bank_service::Service: the bank domain (account aggregate, balances and
// daily_totals projections) behind a small HTTP/1.1 API (docs/http-service.md).
//
//   bank_service::ServiceOptions o;
//   o.port = 8080;
//   o.runtime.store = annals::sqlite_store({"bank.db"});
//   bank_service::Service svc(std::move(o));
//   svc.start();            // returns at once; serves on background threads
//   ...
//   svc.stop();             // or the destructor
//
// The io threads never block on the runtime: commands go through
// Runtime::execute_async, queries and health checks run on a small thread
// pool; answers are posted back to the connection's strand.

#include "bank_service/config.hpp"

#include <annals/runtime.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace bank_service {

struct ServiceOptions {
  /// Where to listen. Loopback by default; port 0 picks a free port (see Service::port()).
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;
  /// Threads running the sockets (the io_context).
  std::size_t io_threads = 2;
  /// Threads that wait for query answers and health checks.
  std::size_t query_threads = 4;
  /// Queries waiting for a pool thread before new ones get 503 overloaded.
  std::size_t max_pending_queries = 256;
  /// Open connections beyond this are answered 503 overloaded and closed.
  std::size_t max_connections = 1024;

  /// A connection that sends no complete request (headers, then body) in
  /// this time, or does not take a response in this time, is closed. Also
  /// how long an idle keep-alive connection stays open.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(30)};
  /// Largest request head (request line + headers); larger: 431.
  std::size_t header_limit = 8 * 1024;
  /// Largest request body; 0: the runtime's limits.max_envelope_bytes.
  /// Larger: 413, before the body is read.
  std::size_t body_limit = 0;
  /// The longest a query may wait for min_position (timeout_ms is capped to it).
  std::chrono::milliseconds max_query_timeout{std::chrono::seconds(30)};
  /// stop() lets requests in progress finish for at most this long.
  std::chrono::milliseconds shutdown_grace{std::chrono::seconds(10)};

  /// Bearer tokens and what they may do. nullopt: open (every request is
  /// allowed; a command's metadata.principal is taken as sent).
  std::optional<AuthConfig> auth;

  /// Snapshot intervals of the bank domain: the account aggregate's
  /// (events between snapshots; 0: none) and the read models' (balances,
  /// daily_totals; 0: none, rebuilt from the events at start).
  int account_snapshot_every = 100;
  int projection_snapshot_every = 0;

  /// The embedded runtime. With `auth` set, its `authorize` is replaced by
  /// auth->command_policy(). Default store: sqlite_store({"bank.db"}).
  annals::RuntimeOptions runtime;
};

class Service {
public:
  /// Opens the store and registers the bank domain; does not listen yet.
  /// Throws annals::StoreError if the store cannot be opened.
  explicit Service(ServiceOptions options);
  /// Stops (see stop()).
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  /// Binds, listens and starts the threads. Throws boost::system::system_error
  /// if the address cannot be bound. Call once.
  void start();
  /// Stops accepting, lets requests in progress finish (up to
  /// shutdown_grace), closes every connection and joins the threads.
  /// Idempotent; the runtime stays usable until the Service is destroyed.
  void stop();

  /// The port listened on (after start(); the chosen one when options.port is 0).
  std::uint16_t port() const;
  /// "http://127.0.0.1:8080"
  std::string url() const;
  const ServiceOptions& options() const;
  /// The embedded runtime (for tests and tools).
  annals::Runtime& runtime();

  struct Impl;

private:
  std::unique_ptr<Impl> impl_;
};

} // namespace bank_service
