#include "annals/cluster/node_transport.hpp"

#include "listen_probe.hpp"
#include "openssl_error_queue.hpp"
#include "tls_files.hpp"
#include "transport_actors.hpp"

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>

namespace annals::cluster {
namespace {

void check_options(const TransportOptions& o) {
  if (o.cluster.empty()) throw TransportError("the cluster has no name; give every node the cluster's name");
  if (o.node.empty()) throw TransportError("this node has no name; give it a name unique in the cluster");
  if (o.host.empty()) throw TransportError("no address to listen on for the other nodes; give one (e.g. 127.0.0.1)");
  if (o.heartbeat_interval.count() <= 0)
    throw TransportError("the heartbeat interval must be positive (default 500 ms): without heartbeats a paused "
                         "node is never noticed");
  if (o.connection_timeout <= o.heartbeat_interval)
    throw TransportError("the connection timeout (" + std::to_string(o.connection_timeout.count()) +
                         " ms) must be longer than the heartbeat interval (" +
                         std::to_string(o.heartbeat_interval.count()) +
                         " ms), or healthy connections are dropped; e.g. 4 heartbeats");
  if (o.request_timeout.count() <= 0) throw TransportError("the request timeout must be positive (default 5 s)");
  if (o.reconnect_backoff_min.count() <= 0 || o.reconnect_backoff_max < o.reconnect_backoff_min)
    throw TransportError("the reconnect backoff needs 0 < min <= max (defaults 100 ms and 5 s)");
}

} // namespace

struct NodeTransport::Impl {
  TransportOptions options;
  std::shared_ptr<RequestHandler> handler;
  std::shared_ptr<detail::ConnectedPeers> connected = std::make_shared<detail::ConnectedPeers>();
  std::shared_ptr<detail::ReplyChannel> channel = std::make_shared<detail::ReplyChannel>();
  // The config outlives the system; the handles go before it (a live handle
  // makes ~actor_system wait forever).
  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor server;
  caf::actor client;
  std::uint16_t port = 0;

  ~Impl() {
    // Late replies of the handler are dropped from here on.
    channel->close();
    // The client fails what is pending (node_unavailable) as it exits.
    if (client) caf::anon_send_exit(client, caf::exit_reason::user_shutdown);
    if (server) caf::anon_send_exit(server, caf::exit_reason::user_shutdown);
    client = nullptr;
    server = nullptr;
    sys.reset();
  }
};

NodeTransport::NodeTransport(TransportOptions options, RequestHandler handler) : impl_(std::make_unique<Impl>()) {
  check_options(options);
  if (!handler) throw TransportError("no request handler given");
  // Before the actor system: CAF aborts or hangs on bad TLS files.
  if (options.tls) {
    detail::check_tls_files(*options.tls);
    if (!detail::openssl_error_queue_fix_linked()) throw TransportError("internal: the OpenSSL fix is missing");
  }

  auto& m = *impl_;
  m.options = std::move(options);
  m.handler = std::make_shared<RequestHandler>(std::move(handler));
  const auto& o = m.options;

  m.cfg = std::make_unique<caf::actor_system_config>();
  auto& cfg = *m.cfg;
  // Heartbeats on: a paused or cut-off peer is noticed after the
  // connection timeout (the same on every node, or healthy links drop).
  cfg.set("middleman.heartbeat-interval", caf::timespan{o.heartbeat_interval});
  cfg.set("middleman.connection-timeout", caf::timespan{o.connection_timeout});
  cfg.load<caf::io::middleman>();
  if (o.tls) {
    // Any openssl.* key turns on mutual authentication against the CA.
    cfg.set("openssl.certificate", o.tls->certificate);
    cfg.set("openssl.key", o.tls->key);
    cfg.set("openssl.cafile", o.tls->cafile);
    if (!o.tls->passphrase.empty()) cfg.set("openssl.passphrase", o.tls->passphrase);
    cfg.load<caf::openssl::manager>();  // after the middleman
  }
  m.sys = std::make_unique<caf::actor_system>(cfg);

  detail::ServerSettings server_settings{o.cluster, o.node, m.handler, o.logger};
  m.server = detail::spawn_request_server(*m.sys, std::move(server_settings), m.channel);
  m.channel->attach(m.server);

  detail::ClientSettings client_settings;
  client_settings.cluster = o.cluster;
  client_settings.node = o.node;
  client_settings.tls = o.tls.has_value();
  client_settings.connection_timeout = o.connection_timeout;
  client_settings.request_timeout = o.request_timeout;
  client_settings.backoff_min = o.reconnect_backoff_min;
  client_settings.backoff_max = o.reconnect_backoff_max;
  client_settings.logger = o.logger;
  client_settings.connected = m.connected;
  m.client = detail::spawn_peer_client(*m.sys, std::move(client_settings));

  // reuse_addr (SO_REUSEADDR): a node restarted after kill -9 gets its port
  // back at once despite the old connections in TIME_WAIT; a port another
  // process listens on is still refused (checked: cannot_open_port).
  auto published = o.tls ? caf::openssl::publish(m.server, o.port, o.host.c_str(), true)
                         : m.sys->middleman().publish(m.server, o.port, o.host.c_str(), true);
  if (!published)
    throw TransportError("cannot listen on " + o.host + ":" + std::to_string(o.port) + ": " +
                         detail::why_cannot_listen(o.host, o.port));
  m.port = *published;
  if (o.logger && o.logger->enabled(LogLevel::info))
    o.logger->log(LogLevel::info, "cluster.listening",
                  "node '" + o.node + "' of cluster '" + o.cluster + "' listens on " + o.host + ":" +
                    std::to_string(m.port) + (o.tls ? " (mutual TLS)" : " (no TLS)"),
                  {{"node", o.node}, {"cluster", o.cluster}, {"host", o.host}, {"port", m.port},
                   {"tls", o.tls.has_value()}});
}

NodeTransport::~NodeTransport() = default;

std::uint16_t NodeTransport::port() const { return impl_->port; }
const TransportOptions& NodeTransport::options() const { return impl_->options; }

void NodeTransport::send(const PeerAddress& peer, std::string request, std::chrono::milliseconds timeout, Reply done) {
  detail::post_send(impl_->client, std::make_shared<detail::SendJob>(peer, std::move(request), timeout, std::move(done)));
}

std::optional<PeerAddress> peer_address(const std::string& node, const std::string& host_port) {
  const auto colon = host_port.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  try {
    const int port = std::stoi(host_port.substr(colon + 1));
    if (port < 1 || port > 65535) return std::nullopt;
    return PeerAddress{node, host_port.substr(0, colon), static_cast<std::uint16_t>(port)};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void NodeTransport::connect(const PeerAddress& peer) { detail::post_connect(impl_->client, peer); }

bool NodeTransport::connected(const std::string& node) const { return impl_->connected->has(node); }

} // namespace annals::cluster
