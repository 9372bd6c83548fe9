#pragma once
// The transport's two actors (transport_actors.cpp): the request server,
// published for the other nodes, and the peer client, which connects to the
// other nodes and tracks every send until it completes.

#include "annals/cluster/node_transport.hpp"

#include <caf/fwd.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>

namespace annals::cluster::detail {

/// One send: completes once, on the client actor (or, if the transport went
/// away before the client saw it, when the last reference goes).
struct SendJob {
  PeerAddress peer;
  std::string request;
  std::chrono::milliseconds timeout{0};
  Reply done;

  SendJob(PeerAddress p, std::string r, std::chrono::milliseconds t, Reply d)
    : peer(std::move(p)), request(std::move(r)), timeout(t), done(std::move(d)) {}
  ~SendJob();
  SendJob(const SendJob&) = delete;
  SendJob& operator=(const SendJob&) = delete;

  /// Calls `done` unless it was called already.
  void finish(Expected<std::string> result);
};
using SendJobPtr = std::shared_ptr<SendJob>;

/// The names of the peers whose connection is up (handshake done), for
/// NodeTransport::connected from any thread.
struct ConnectedPeers {
  mutable std::mutex mtx;
  std::set<std::string> nodes;

  void set(const std::string& node, bool up) {
    std::lock_guard<std::mutex> lock(mtx);
    if (up) nodes.insert(node); else nodes.erase(node);
  }
  bool has(const std::string& node) const {
    std::lock_guard<std::mutex> lock(mtx);
    return nodes.count(node) > 0;
  }
};

/// Carries the handler's replies (from any thread) to the request server;
/// closed before the actor system goes, after which replies are dropped.
class ReplyChannel {
public:
  ReplyChannel();
  ~ReplyChannel();
  void attach(const caf::actor& server);
  void deliver(std::uint64_t request_id, Expected<std::string> result);
  void close();

private:
  std::mutex mtx_;
  std::unique_ptr<caf::actor> server_;
};

struct ServerSettings {
  std::string cluster;
  std::string node;
  std::shared_ptr<RequestHandler> handler;
  LoggerPtr logger;
};

struct ClientSettings {
  std::string cluster;
  std::string node;
  bool tls = false;
  std::chrono::milliseconds connection_timeout{2000};
  std::chrono::milliseconds request_timeout{5000};
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{5000};
  LoggerPtr logger;
  std::shared_ptr<ConnectedPeers> connected;
};

/// The server; the caller attaches it to `channel` before publishing it.
caf::actor spawn_request_server(caf::actor_system& sys, ServerSettings settings,
                                std::shared_ptr<ReplyChannel> channel);
caf::actor spawn_peer_client(caf::actor_system& sys, ClientSettings settings);
/// Hands a send to the client (never blocks).
void post_send(const caf::actor& client, SendJobPtr job);
/// Asks the client to connect to `peer` now if it has no connection (never blocks).
void post_connect(const caf::actor& client, const PeerAddress& peer);

} // namespace annals::cluster::detail
