// The HTTP service: listening, accepting connections, stopping.
#include "service_impl.hpp"

#include <cstdio>

namespace annals::http {

void Service::Impl::start() {
  std::lock_guard<std::mutex> lock(lifecycle_mtx);
  if (started) throw std::logic_error("annals::http::Service::start called twice");
  const std::string where = options.address + ":" + std::to_string(options.port);
  boost::system::error_code ec;
  const auto address = net::ip::make_address(options.address, ec);
  if (ec) throw boost::system::system_error(ec.value(), ec.category(), "bad listen address '" + options.address + "'");
  const tcp::endpoint ep(address, options.port);
  auto check = [&](const char* step) {
    if (ec) throw boost::system::system_error(ec.value(), ec.category(), std::string("cannot ") + step + " " + where);
  };
  acceptor.open(ep.protocol(), ec);
  check("open a socket for");
  acceptor.set_option(net::socket_base::reuse_address(true), ec);
  check("set SO_REUSEADDR for");
  acceptor.bind(ep, ec);
  check("bind to");
  acceptor.listen(net::socket_base::max_listen_connections, ec);
  check("listen on");
  bound_port = acceptor.local_endpoint().port();
  started = true;
  work.emplace(ioc.get_executor());
  do_accept();
  const std::size_t n = std::max<std::size_t>(1, options.io_threads);
  for (std::size_t i = 0; i < n; ++i)
    threads.emplace_back([this] {
      for (;;) {
        try {
          ioc.run();
          return;
        } catch (const std::exception& e) {
          std::fprintf(stderr, "%s: a handler threw (continuing): %s\n", options.log_name.c_str(), e.what());
        }
      }
    });
}

void Service::Impl::do_accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](boost::system::error_code ec, tcp::socket socket) {
    on_accept(ec, std::move(socket));
  });
}

void Service::Impl::on_accept(boost::system::error_code ec, tcp::socket socket) {
  if (stopping || ec == net::error::operation_aborted) {
    boost::system::error_code ignored;
    socket.close(ignored);
    return;
  }
  if (ec) {
    // Out of file descriptors, say: wait a little instead of spinning.
    accept_backoff.expires_after(std::chrono::milliseconds(50));
    accept_backoff.async_wait([this](boost::system::error_code e) {
      if (!e && !stopping) do_accept();
    });
    return;
  }
  bool overloaded;
  auto session = make_session(*this, std::move(socket));
  {
    std::lock_guard<std::mutex> lock(sessions_mtx);
    overloaded = sessions.size() >= options.max_connections;
    sessions.emplace(session.get(), session);
  }
  start_session(session, overloaded);
  do_accept();
}

void Service::Impl::stop() {
  std::lock_guard<std::mutex> lock(lifecycle_mtx);
  if (stopped) return;
  stopped = true;
  stopping = true;
  if (!started) return;
  net::post(acceptor.get_executor(), [this] {
    boost::system::error_code ec;
    acceptor.close(ec);
    accept_backoff.cancel();
  });
  // Close idle connections now; busy ones close after their response.
  std::vector<std::shared_ptr<Session>> open;
  {
    std::lock_guard<std::mutex> s(sessions_mtx);
    for (auto& kv : sessions)
      if (auto session = kv.second.lock()) open.push_back(std::move(session));
  }
  for (auto& session : open) post_stop_if_idle(session);
  open.clear();
  {
    std::unique_lock<std::mutex> s(sessions_mtx);
    sessions_cv.wait_for(s, options.shutdown_grace, [this] { return sessions.empty(); });
  }
  work.reset();
  ioc.stop();
  for (auto& t : threads) t.join();
  threads.clear();
  pool.stop();
  pool.join();
}

Service::Service(ServiceOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Service::~Service() = default;
void Service::start() { impl_->start(); }
void Service::stop() { impl_->stop(); }
std::uint16_t Service::port() const { return impl_->bound_port; }
std::string Service::url() const {
  return "http://" + impl_->options.address + ":" + std::to_string(impl_->bound_port);
}
const ServiceOptions& Service::options() const { return impl_->options; }
std::size_t Service::waiting_requests() const { return impl_->waiting_requests.load(); }
std::size_t Service::open_connections() const {
  std::lock_guard<std::mutex> lock(impl_->sessions_mtx);
  return impl_->sessions.size();
}
annals::Runtime& Service::runtime() { return *impl_->runtime; }

} // namespace annals::http
