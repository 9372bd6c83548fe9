#pragma once
// Internal to the HTTP service: what the service holds (Service::Impl) and
// the connection type it serves (Session, in session.cpp).

#include "annals/http/service.hpp"

#include <annals/persistence/sqlite_event_store.hpp>

#include <boost/asio.hpp>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

namespace annals::http {

namespace net = boost::asio;
using tcp = net::ip::tcp;

class Session;

struct Service::Impl {
  ServiceOptions options;
  std::unique_ptr<annals::Runtime> runtime;
  std::size_t body_limit = 0;
  /// What GET / answers (without "domains"): the registered types, fixed after install.
  json::object discovery;

  // Connections: registered while alive (declared before the io_context:
  // sessions destroyed with it unregister here).
  std::mutex sessions_mtx;
  std::condition_variable sessions_cv;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> waiting_requests{0};

  net::io_context ioc;
  /// Keeps the io threads running while there is momentarily nothing to do
  /// (during stop(), say, when the acceptor is closed before the connections).
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  net::thread_pool pool;
  tcp::acceptor acceptor;
  net::steady_timer accept_backoff;
  std::vector<std::thread> threads;

  std::mutex lifecycle_mtx;
  bool started = false;
  bool stopped = false;
  std::uint16_t bound_port = 0;

  explicit Impl(ServiceOptions o)
    : options(std::move(o)),
      pool(std::max<std::size_t>(1, options.health_threads)),
      acceptor(net::make_strand(ioc)),
      accept_backoff(acceptor.get_executor()) {
    if (!options.runtime.store) options.runtime.store = annals::sqlite_store({"annals.db"});
    if (options.auth) options.runtime.authorize = options.auth->command_policy();
    body_limit = options.body_limit ? options.body_limit : options.runtime.limits.max_envelope_bytes;
    runtime = std::make_unique<annals::Runtime>(options.runtime);
    if (options.install) options.install(*runtime);
    discovery = describe_types(*runtime);
  }

  ~Impl() {
    stop();
    // Before the io_context goes: destroying the runtime answers what is
    // still in flight (queries waiting for a position get shutting_down at
    // once), and those callbacks post to it.
    runtime.reset();
  }

  /// A request that waited for the runtime has its answer.
  void leave_waiting() { --waiting_requests; }

  void start();
  void stop();
  void do_accept();
  void on_accept(boost::system::error_code ec, tcp::socket socket);

  void unregister_session(Session* s) {
    std::lock_guard<std::mutex> lock(sessions_mtx);
    sessions.erase(s);
    sessions_cv.notify_all();
  }
};

/// A new connection, registered with the service while it lives.
std::shared_ptr<Session> make_session(Service::Impl& service, tcp::socket socket);
/// Starts reading requests (or answers 503 and closes when `overloaded`).
void start_session(const std::shared_ptr<Session>& session, bool overloaded);
/// Closes the connection on its own strand unless a request is in progress.
void post_stop_if_idle(const std::shared_ptr<Session>& session);

} // namespace annals::http
