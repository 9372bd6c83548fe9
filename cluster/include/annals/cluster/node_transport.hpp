#pragma once
// NodeTransport: carries a request (an opaque string; the layer above encodes
// commands and results as JSON) from this node to another node of the
// cluster and its reply back, over CAF's io middleman, with mutual TLS when
// configured. It runs its own actor system, separate from the runtime's.
// docs/cluster.md, "Between nodes: the transport and TLS".

#include "annals/expected.hpp"
#include "annals/log.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace annals::cluster {

/// PEM files of this node: its certificate and key, signed by the cluster's
/// CA, and that CA's certificate (the only CA whose peers are accepted).
struct TlsFiles {
  std::string certificate;
  std::string key;
  std::string cafile;
  /// For an encrypted key; empty for a key without one.
  std::string passphrase;
};

struct TransportOptions {
  /// The cluster's name: a node of another cluster is refused.
  std::string cluster;
  /// This node's name, as the other nodes address it.
  std::string node;
  /// The address this node listens on for the other nodes.
  std::string host = "127.0.0.1";
  /// 0: any free port (port() gives it).
  std::uint16_t port = 0;
  /// Mutual TLS against the cluster's CA; without it, plain TCP.
  std::optional<TlsFiles> tls;
  /// CAF's heartbeats and connection timeout: a peer silent for
  /// connection_timeout (a paused process, a lost host) counts as gone. Both
  /// must be the same on every node of a cluster.
  std::chrono::milliseconds heartbeat_interval{500};
  std::chrono::milliseconds connection_timeout{2000};
  /// The longest any request may wait for its reply (a send's own timeout is
  /// cut to this).
  std::chrono::milliseconds request_timeout{5000};
  /// After a failed connection attempt, sends to that peer fail at once for
  /// this long; it doubles with each failure in a row up to the max.
  std::chrono::milliseconds reconnect_backoff_min{100};
  std::chrono::milliseconds reconnect_backoff_max{5000};
  /// Connections, losses and refusals ("cluster.peer_*" events); may be null.
  LoggerPtr logger;
};

/// Where another node listens.
struct PeerAddress {
  std::string node;
  std::string host;
  std::uint16_t port = 0;
};

/// The peer address of `node` from "host:port" (a member's address in the
/// membership table); nullopt when it is not of that form.
std::optional<PeerAddress> peer_address(const std::string& node, const std::string& host_port);

/// A start failure (bad TLS files, a port in use, bad options): one line that
/// says what to fix.
class TransportError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Completes a request: the reply's bytes, or an Error for the sender.
using Reply = std::function<void(Expected<std::string>)>;
/// Serves a request from another node. Called on a transport thread; it must
/// not block: call `reply` exactly once, at once or later from any thread. A
/// reply dropped without being called answers internal_error.
using RequestHandler = std::function<void(std::string from_node, std::string request, Reply reply)>;

class NodeTransport {
public:
  /// Checks the options (and the TLS files, before CAF sees them), starts the
  /// transport and listens; throws TransportError when it cannot.
  NodeTransport(TransportOptions options, RequestHandler handler);
  /// Stops: sends still pending complete with node_unavailable; replies of
  /// the handler that come later are dropped.
  ~NodeTransport();
  NodeTransport(const NodeTransport&) = delete;
  NodeTransport& operator=(const NodeTransport&) = delete;

  /// The port this node listens on.
  std::uint16_t port() const;
  const TransportOptions& options() const;

  /// Sends `request` to `peer`; `done` is called exactly once, on a transport
  /// thread, with the handler's reply (byte for byte, or its Error as is) or
  /// with node_unavailable: the peer cannot be reached or is not of this
  /// cluster, the connection was lost, or no reply came within
  /// min(timeout, request_timeout). Never blocks the calling thread.
  void send(const PeerAddress& peer, std::string request, std::chrono::milliseconds timeout, Reply done);

  /// Opens a connection to `peer` in the background unless one is up or
  /// being made, or the last attempt failed within its backoff; sends then
  /// find it ready. Never blocks.
  void connect(const PeerAddress& peer);

  /// Whether a connection to `node` is up and its handshake done.
  bool connected(const std::string& node) const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace annals::cluster
