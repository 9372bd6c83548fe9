#pragma once
// annals::http::Service: a Runtime with whatever aggregate types and
// projections `install` registers, behind a small HTTP/1.1 API
// (docs/http-service.md): commands, queries, streams, the event log (also
// live, as Server-Sent Events), /health and /metrics. `annals serve` is this
// over the domains of the catalog.
//
//   annals::http::ServiceOptions o;
//   o.port = 8080;
//   o.runtime.store = annals::sqlite_store({"bank.db"});
//   o.install = [](annals::Runtime& rt) { rt.register_aggregate(bank::account_type()); };
//   annals::http::Service svc(std::move(o));
//   svc.start();            // returns at once; serves on background threads
//   ...
//   svc.stop();             // or the destructor
//
// No thread waits for the runtime: commands go through
// Runtime::execute_async, queries through Runtime::query_async, and their
// answers are posted back to the connection's strand. Only health checks
// (they read the store) run on a small thread pool.

#include "annals/http/config.hpp"
#include "annals/http/discovery.hpp"

#include <annals/runtime.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace annals::http {

struct ServiceOptions {
  /// Where to listen. Loopback by default; port 0 picks a free port (see Service::port()).
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;
  /// Threads running the sockets (the io_context).
  std::size_t io_threads = 2;
  /// Threads that run health checks (they read the store).
  std::size_t health_threads = 2;
  /// Requests waiting for the runtime at once (commands, queries, health
  /// checks); beyond it a request is answered 503 overloaded at once.
  std::size_t max_waiting_requests = 256;
  /// Open connections beyond this are answered 503 overloaded (Retry-After)
  /// and closed, without reading a request.
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

  /// Registers the domain(s) served (upcasters, aggregate types,
  /// projections) into the runtime before anything is served.
  std::function<void(annals::Runtime&)> install;
  /// The domains, for GET / (what `install` registers is listed there in
  /// any case; this adds which domain each name belongs to).
  std::vector<DomainSummary> domains;
  /// Event subscriptions (GET /events/subscribe): how often the log is read
  /// for new events, and how long a quiet subscription goes without a
  /// heartbeat comment (so that proxies keep the connection).
  std::chrono::milliseconds subscription_poll_interval{100};
  std::chrono::milliseconds subscription_heartbeat{std::chrono::seconds(15)};
  /// Prefixes what the service writes to stderr ("annals serve: ...").
  std::string log_name = "annals serve";

  /// The embedded runtime. With `auth` set, its `authorize` is replaced by
  /// auth->command_policy(). Default store: sqlite_store({"annals.db"}).
  annals::RuntimeOptions runtime;
};

class Service {
public:
  /// Opens the store and runs options.install; does not listen yet.
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
  /// Requests waiting for the runtime now (see max_waiting_requests).
  std::size_t waiting_requests() const;
  /// Connections open now, as counted against max_connections (a connection
  /// the client closed counts until the service has seen it close).
  std::size_t open_connections() const;
  /// The embedded runtime (for tests and tools).
  annals::Runtime& runtime();

  struct Impl;

private:
  std::unique_ptr<Impl> impl_;
};

} // namespace annals::http
