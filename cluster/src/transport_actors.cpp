#include "transport_actors.hpp"

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/openssl/manager.hpp>

#include <algorithm>
#include <map>
#include <vector>

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::cluster::detail::SendJobPtr)

namespace annals::cluster::detail {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Between nodes (only strings, bools and atoms cross the wire: nothing to
// register, no serializer of our own):
//   hello(cluster, from node, expected node) -> (accepted, cluster, node, reason)
//   request(bytes) -> (ok, error code, bytes or error message)
using hello_atom = caf::atom_constant<caf::atom("clhello")>;
using request_atom = caf::atom_constant<caf::atom("clrequest")>;
// Inside one node.
using reply_atom = caf::atom_constant<caf::atom("clreply")>;
using send_atom = caf::atom_constant<caf::atom("clsend")>;
using expire_atom = caf::atom_constant<caf::atom("clexpire")>;
using warm_atom = caf::atom_constant<caf::atom("clwarm")>;

void log(const LoggerPtr& logger, LogLevel level, std::string event, std::string message, json::object fields) {
  if (logger && logger->enabled(level)) logger->log(level, std::move(event), std::move(message), std::move(fields));
}

std::string ms_text(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

/// A down reason of a peer's proxy, in words.
std::string describe_down(const caf::error& reason) {
  if (reason == caf::exit_reason::remote_link_unreachable)
    return "the process ended, or it sent no heartbeat within the connection timeout (paused, or the network dropped)";
  if (reason == caf::exit_reason::user_shutdown || !reason) return "its transport stopped";
  return "its transport ended (" + caf::to_string(reason) + ")";
}

} // namespace

// ---- SendJob, ReplyChannel ------------------------------------------------

SendJob::~SendJob() {
  finish(Error{errc::node_unavailable,
               "this node's transport stopped before node '" + peer.node + "' answered"});
}

void SendJob::finish(Expected<std::string> result) {
  if (!done) return;
  Reply d = std::move(done);
  done = nullptr;
  try {
    d(std::move(result));
  } catch (...) {
    // The caller's callback threw: nothing to give it back to, and it must
    // not take the transport's actor down with it.
  }
}

ReplyChannel::ReplyChannel() = default;
ReplyChannel::~ReplyChannel() = default;

void ReplyChannel::attach(const caf::actor& server) {
  std::lock_guard<std::mutex> lock(mtx_);
  server_ = std::make_unique<caf::actor>(server);
}

void ReplyChannel::deliver(std::uint64_t request_id, Expected<std::string> result) {
  std::lock_guard<std::mutex> lock(mtx_);
  if (!server_) return;
  if (result)
    caf::anon_send(*server_, reply_atom::value, request_id, true, std::string(), std::move(*result));
  else
    caf::anon_send(*server_, reply_atom::value, request_id, false, result.error().code, result.error().message);
}

void ReplyChannel::close() {
  std::lock_guard<std::mutex> lock(mtx_);
  server_.reset();
}

namespace {

/// The handler's side of one request: the first answer counts; one never
/// given (the Reply dropped) answers internal_error instead of leaving the
/// sender to its timeout.
class PendingReply {
public:
  PendingReply(std::shared_ptr<ReplyChannel> channel, std::uint64_t id, std::string node)
    : channel_(std::move(channel)), id_(id), node_(std::move(node)) {}
  ~PendingReply() {
    if (!answered_.exchange(true))
      channel_->deliver(id_, Error{errc::internal_error, "node '" + node_ +
                                                             "' dropped the request without an answer "
                                                             "(a bug in its request handler)"});
  }
  void answer(Expected<std::string> result) {
    if (!answered_.exchange(true)) channel_->deliver(id_, std::move(result));
  }

private:
  std::shared_ptr<ReplyChannel> channel_;
  std::uint64_t id_;
  std::string node_;
  std::atomic<bool> answered_{false};
};

// ---- the request server ---------------------------------------------------

struct ServerState {
  ServerSettings s;
  std::shared_ptr<ReplyChannel> channel;
  /// The peers that introduced themselves (hello accepted), by CAF node.
  std::map<caf::node_id, std::string> peers;
  std::map<std::uint64_t, caf::response_promise> pending;
  std::uint64_t next_id = 1;
  static inline const char* name = "annals.cluster.request_server";
};

using ServerActor = caf::stateful_actor<ServerState>;

caf::behavior request_server(ServerActor* self, ServerSettings settings, std::shared_ptr<ReplyChannel> channel) {
  self->state.s = std::move(settings);
  self->state.channel = std::move(channel);
  self->set_down_handler([=](caf::down_msg& dm) { self->state.peers.erase(dm.source.node()); });
  return {
    [=](hello_atom, const std::string& cluster, const std::string& from,
        const std::string& to) -> caf::result<bool, std::string, std::string, std::string> {
      auto& st = self->state;
      std::string reason;
      if (from.empty())
        reason = "the connecting node gave no name";
      else if (cluster != st.s.cluster)
        reason = "node '" + from + "' belongs to cluster '" + cluster + "', node '" + st.s.node +
                 "' to cluster '" + st.s.cluster + "'";
      else if (to != st.s.node)
        reason = "node '" + from + "' expected node '" + to + "' at this address, but this is node '" + st.s.node + "'";
      if (!reason.empty()) {
        log(st.s.logger, LogLevel::warn, "cluster.peer_refused", "refused a connecting node: " + reason,
            {{"peer", from}, {"peer_cluster", cluster}, {"reason", reason}});
        return {false, st.s.cluster, st.s.node, reason};
      }
      if (const auto& sender = self->current_sender()) {
        st.peers[sender->node()] = from;
        self->monitor(caf::actor_cast<caf::actor_addr>(sender));
      }
      log(st.s.logger, LogLevel::info, "cluster.peer_accepted", "node '" + from + "' connected to this node",
          {{"peer", from}});
      return {true, st.s.cluster, st.s.node, std::string()};
    },
    [=](request_atom, std::string& request) -> caf::result<bool, std::string, std::string> {
      auto& st = self->state;
      const auto& sender = self->current_sender();
      auto peer = sender ? st.peers.find(sender->node()) : st.peers.end();
      if (peer == st.peers.end())
        return {false, std::string(errc::node_unavailable),
                "node '" + st.s.node + "' refused the request: the sending node did not introduce itself"};
      const auto id = st.next_id++;
      auto promise = self->make_response_promise();
      st.pending.emplace(id, promise);
      auto pending = std::make_shared<PendingReply>(st.channel, id, st.s.node);
      Reply reply = [pending](Expected<std::string> result) { pending->answer(std::move(result)); };
      try {
        (*st.s.handler)(peer->second, std::move(request), reply);
      } catch (const std::exception& e) {
        pending->answer(Error{errc::internal_error, "the request handler of node '" + st.s.node + "' threw: " + e.what()});
      } catch (...) {
        pending->answer(Error{errc::internal_error, "the request handler of node '" + st.s.node + "' threw"});
      }
      return promise;
    },
    [=](reply_atom, std::uint64_t id, bool ok, std::string& code, std::string& text) {
      auto& st = self->state;
      auto i = st.pending.find(id);
      if (i == st.pending.end()) return;
      i->second.deliver(ok, std::move(code), std::move(text));
      st.pending.erase(i);
    },
  };
}

// ---- the peer client ------------------------------------------------------

struct Peer {
  std::string host;
  std::uint16_t port = 0;
  enum class Status { idle, connecting, connected, failed } status = Status::idle;
  caf::actor remote;
  /// Counts connection attempts: a late answer to an older one is ignored.
  std::uint64_t attempt = 0;
  /// Sends waiting for the connection; sends out to the peer.
  std::vector<std::uint64_t> waiting;
  std::vector<std::uint64_t> in_flight;
  /// While failed: sends before retry_at fail at once with `failure`.
  Clock::time_point retry_at{};
  std::string failure;
  std::chrono::milliseconds backoff{0};
  /// When the current attempt started, and whether a connect that CAF
  /// declared timed out long before connection_timeout was tried again.
  Clock::time_point attempt_started{};
  bool retried_early_timeout = false;
};

struct PendingSend {
  SendJobPtr job;
  std::string node;
  std::chrono::milliseconds timeout{0};
  Clock::time_point deadline{};
  bool dispatched = false;
};

struct ClientState {
  ClientSettings s;
  caf::io::middleman_actor mm;
  std::map<std::string, Peer> peers;
  std::map<std::uint64_t, PendingSend> sends;
  std::uint64_t next_id = 1;
  static inline const char* name = "annals.cluster.peer_client";
};

using ClientActor = caf::stateful_actor<ClientState>;

std::string where(const std::string& node, const Peer& p) {
  return "node '" + node + "' at " + p.host + ":" + std::to_string(p.port);
}

const char* const takeover_hint = "; its shards are taken over when its lease expires";

void erase_id(std::vector<std::uint64_t>& ids, std::uint64_t id) {
  ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
}

void finish(ClientActor* self, std::uint64_t id, Expected<std::string> result) {
  auto& st = self->state;
  auto i = st.sends.find(id);
  if (i == st.sends.end()) return;  // completed already (lost connection, timeout)
  auto job = std::move(i->second.job);
  auto p = st.peers.find(i->second.node);
  if (p != st.peers.end()) {
    erase_id(p->second.waiting, id);
    erase_id(p->second.in_flight, id);
  }
  st.sends.erase(i);
  job->finish(std::move(result));
}

void fail_all(ClientActor* self, std::vector<std::uint64_t> ids, const std::string& message) {
  for (auto id : ids) finish(self, id, Error{errc::node_unavailable, message});
}

void dispatch(ClientActor* self, const std::string& node, std::uint64_t id) {
  auto& st = self->state;
  auto s = st.sends.find(id);
  if (s == st.sends.end()) return;
  auto& peer = st.peers[node];
  peer.in_flight.push_back(id);
  s->second.dispatched = true;
  // The expire timer decides the outcome; CAF's own request timeout, a bit
  // later, only frees its bookkeeping for a reply that never comes.
  const auto remaining = std::max<Clock::duration>(s->second.deadline - Clock::now(), 1ms);
  const auto cleanup = std::chrono::duration_cast<std::chrono::milliseconds>(remaining) + 1s;
  const auto where_text = where(node, peer);
  self->request(peer.remote, caf::duration{cleanup}, request_atom::value, std::move(s->second.job->request))
    .then(
      [=](bool ok, std::string& code, std::string& text) {
        if (ok)
          finish(self, id, std::move(text));
        else
          finish(self, id, Error{code, std::move(text)});
      },
      [=](caf::error& e) {
        finish(self, id, Error{errc::node_unavailable, where_text + " is unreachable: the request failed (" +
                                                           caf::to_string(e) + ")" + takeover_hint});
      });
}

void drop_remote(ClientActor* self, Peer& peer, const std::string& node) {
  if (peer.remote) {
    self->demonitor(peer.remote);
    peer.remote = nullptr;
  }
  self->state.s.connected->set(node, false);
}

/// A connection attempt failed (or the peer was refused): back off, and fail
/// the sends that waited for it.
void attempt_failed(ClientActor* self, const std::string& node, const std::string& message,
                    const std::string& event, const std::string& reason) {
  auto& st = self->state;
  auto& peer = st.peers[node];
  const bool new_failure = peer.status != Peer::Status::failed || peer.failure != message;
  drop_remote(self, peer, node);
  peer.status = Peer::Status::failed;
  peer.backoff = peer.backoff.count() == 0 ? st.s.backoff_min : std::min(peer.backoff * 2, st.s.backoff_max);
  peer.retry_at = Clock::now() + peer.backoff;
  peer.failure = message;
  if (new_failure)
    log(st.s.logger, LogLevel::warn, event, message,
        {{"peer", node}, {"host", peer.host}, {"port", peer.port}, {"reason", reason},
         {"retry_after_ms", peer.backoff.count()}});
  auto waiting = std::move(peer.waiting);
  peer.waiting.clear();
  fail_all(self, std::move(waiting), message);
}

void unreachable(ClientActor* self, const std::string& node, const std::string& reason) {
  auto& peer = self->state.peers[node];
  attempt_failed(self, node, where(node, peer) + " is unreachable: " + reason + takeover_hint,
                 "cluster.peer_unreachable", reason);
}

void refused(ClientActor* self, const std::string& node, const std::string& reason) {
  auto& peer = self->state.peers[node];
  attempt_failed(self, node,
                 where(node, peer) + " is refused: " + reason +
                   "; check the cluster's name, the node names and the certificates of both nodes",
                 "cluster.peer_refused", reason);
}

Peer* current_attempt(ClientActor* self, const std::string& node, std::uint64_t attempt) {
  auto p = self->state.peers.find(node);
  if (p == self->state.peers.end() || p->second.attempt != attempt || p->second.status != Peer::Status::connecting)
    return nullptr;
  return &p->second;
}

void now_connected(ClientActor* self, const std::string& node) {
  auto& st = self->state;
  auto& peer = st.peers[node];
  peer.status = Peer::Status::connected;
  peer.backoff = 0ms;
  peer.retried_early_timeout = false;
  peer.failure.clear();
  st.s.connected->set(node, true);
  log(st.s.logger, LogLevel::info, "cluster.peer_connected", "connected to " + where(node, peer),
      {{"peer", node}, {"host", peer.host}, {"port", peer.port}});
  auto waiting = std::move(peer.waiting);
  peer.waiting.clear();
  for (auto id : waiting) dispatch(self, node, id);
}

void handshake(ClientActor* self, const std::string& node, std::uint64_t attempt) {
  auto& st = self->state;
  auto& peer = st.peers[node];
  self->request(peer.remote, caf::duration{st.s.connection_timeout}, hello_atom::value, st.s.cluster, st.s.node, node)
    .then(
      [=](bool accepted, std::string& cluster, std::string& name, std::string& reason) {
        if (!current_attempt(self, node, attempt)) return;
        const auto& me = self->state.s;
        if (!accepted)
          refused(self, node, reason);
        else if (cluster != me.cluster)
          refused(self, node, "node '" + name + "' belongs to cluster '" + cluster + "', node '" + me.node +
                                "' to cluster '" + me.cluster + "'");
        else if (name != node)
          refused(self, node, "the node at that address is '" + name + "', not '" + node + "'");
        else
          now_connected(self, node);
      },
      [=](caf::error& e) {
        if (!current_attempt(self, node, attempt)) return;
        if (e == caf::sec::request_timeout)
          unreachable(self, node, "no answer to the handshake within " + ms_text(self->state.s.connection_timeout) +
                                    " (a paused or overloaded process?)");
        else
          unreachable(self, node, "the handshake failed (" + caf::to_string(e) + ")");
      });
}

void start_connect(ClientActor* self, const std::string& node);

/// Whether an early connection timeout of this peer was retried already
/// (and marks it retried when not: the caller retries now). A timeout after
/// half the connection timeout or more is taken as real.
bool early_timeout_retried(ClientActor* self, const std::string& node, std::chrono::milliseconds connection_timeout) {
  auto& peer = self->state.peers[node];
  if (peer.retried_early_timeout || Clock::now() - peer.attempt_started >= connection_timeout / 2) return true;
  peer.retried_early_timeout = true;
  return false;
}

void start_connect(ClientActor* self, const std::string& node) {
  auto& st = self->state;
  auto& peer = st.peers[node];
  peer.status = Peer::Status::connecting;
  peer.attempt_started = Clock::now();
  const auto attempt = ++peer.attempt;
  // Bounded by the connection timeout: a paused peer accepts the TCP
  // connection but never finishes CAF's handshake.
  self->request(st.mm, caf::duration{st.s.connection_timeout}, caf::connect_atom::value, peer.host, peer.port)
    .then(
      [=](const caf::node_id&, caf::strong_actor_ptr& remote, const std::set<std::string>&) {
        auto* p = current_attempt(self, node, attempt);
        if (!p) return;
        if (!remote) {
          unreachable(self, node, "no annals transport listens on that port");
          return;
        }
        p->remote = caf::actor_cast<caf::actor>(std::move(remote));
        self->monitor(p->remote);
        handshake(self, node, attempt);
      },
      [=](caf::error& e) {
        if (!current_attempt(self, node, attempt)) return;
        const auto& me = self->state.s;
        if (e == caf::sec::disconnect_during_handshake && me.tls)
          refused(self, node, "the TLS handshake failed: its certificate is not from this cluster's CA, "
                              "or it does not use TLS");
        else if (e == caf::sec::disconnect_during_handshake)
          refused(self, node, "it closed the connection during the handshake (does it use TLS while this node does not?)");
        else if (e == caf::sec::cannot_connect_to_node && me.tls)
          unreachable(self, node, "cannot connect (nothing listens there, or it does not use TLS)");
        else if (e == caf::sec::cannot_connect_to_node)
          unreachable(self, node, "cannot connect (nothing listens there)");
        else if (e == caf::sec::request_timeout)
          unreachable(self, node, "no connection within " + ms_text(me.connection_timeout) +
                                    " (a paused or overloaded process, or a lost host?)");
        else if (e == caf::sec::connection_timeout && !early_timeout_retried(self, node, me.connection_timeout)) {
          // CAF 0.17 may time out a new connection at its first heartbeat
          // tick, long before connection_timeout (seen with TLS on a busy
          // machine): nothing was sent yet, so try once more at once.
          start_connect(self, node);
        } else if (e == caf::sec::connection_timeout)
          unreachable(self, node, "it accepted the connection but did not complete the handshake (a paused or "
                                  "overloaded process?)");
        else
          unreachable(self, node, "cannot connect (" + caf::to_string(e) + ")");
      });
}

/// The connection to a peer went down (its process ended, heartbeats
/// stopped): what was in flight fails now, the next send reconnects.
void connection_lost(ClientActor* self, const std::string& node, const std::string& reason) {
  auto& st = self->state;
  auto& peer = st.peers[node];
  if (peer.status == Peer::Status::connecting) {
    unreachable(self, node, "the connection closed during the handshake (" + reason + ")");
    return;
  }
  const auto message = where(node, peer) + " is unreachable: the connection was lost (" + reason + ")" + takeover_hint;
  log(st.s.logger, LogLevel::warn, "cluster.peer_lost", message,
      {{"peer", node}, {"host", peer.host}, {"port", peer.port}, {"reason", reason},
       {"in_flight", peer.in_flight.size()}});
  drop_remote(self, peer, node);
  peer.status = Peer::Status::idle;
  std::vector<std::uint64_t> ids = std::move(peer.in_flight);
  peer.in_flight.clear();
  ids.insert(ids.end(), peer.waiting.begin(), peer.waiting.end());
  peer.waiting.clear();
  fail_all(self, std::move(ids), message);
}

/// The node answers on another address now (restarted elsewhere): forget
/// the old connection and its backoff.
void readdress(ClientActor* self, const std::string& node, const std::string& host, std::uint16_t port) {
  auto& peer = self->state.peers[node];
  const bool known = !peer.host.empty();
  const auto old_where = where(node, peer);
  drop_remote(self, peer, node);
  auto in_flight = std::move(peer.in_flight);
  peer.in_flight.clear();
  peer.host = host;
  peer.port = port;
  peer.status = Peer::Status::idle;
  ++peer.attempt;
  peer.backoff = 0ms;
  peer.failure.clear();
  if (known)
    fail_all(self, std::move(in_flight),
             old_where + " is unreachable: it moved to " + host + ":" + std::to_string(port) + takeover_hint);
}

void route(ClientActor* self, const std::string& node, std::uint64_t id) {
  auto& peer = self->state.peers[node];
  switch (peer.status) {
    case Peer::Status::connected:
      dispatch(self, node, id);
      return;
    case Peer::Status::connecting:
      peer.waiting.push_back(id);
      return;
    case Peer::Status::failed:
      if (Clock::now() < peer.retry_at) {
        // Failed recently: fail fast, a dead owner costs no timeout.
        finish(self, id, Error{errc::node_unavailable, peer.failure});
        return;
      }
      [[fallthrough]];
    case Peer::Status::idle:
      peer.waiting.push_back(id);
      start_connect(self, node);
      return;
  }
}

caf::behavior peer_client(ClientActor* self, ClientSettings settings) {
  self->state.s = std::move(settings);
  if (self->state.s.tls)
    self->state.mm = self->system().openssl_manager().actor_handle();
  else
    self->state.mm = self->system().middleman().actor_handle();
  self->set_down_handler([=](caf::down_msg& dm) {
    for (auto& [node, peer] : self->state.peers)
      if (peer.remote && peer.remote.address() == dm.source) {
        connection_lost(self, node, describe_down(dm.reason));
        return;
      }
  });
  self->set_exit_handler([=](caf::exit_msg& em) {
    auto& st = self->state;
    std::vector<std::uint64_t> ids;
    for (auto& [id, send] : st.sends) ids.push_back(id);
    for (auto id : ids) {
      auto i = st.sends.find(id);
      const auto node = i->second.node;
      finish(self, id, Error{errc::node_unavailable, "this node's transport stopped before node '" + node + "' answered"});
    }
    for (auto& [node, peer] : st.peers) drop_remote(self, peer, node);
    self->quit(em.reason);
  });
  return {
    [=](send_atom, SendJobPtr& job) {
      auto& st = self->state;
      const auto& address = job->peer;
      if (address.node.empty() || address.host.empty() || address.port == 0) {
        job->finish(Error{errc::node_unavailable, "node '" + address.node + "' has no address to send to (host " +
                                                      address.host + ", port " + std::to_string(address.port) + ")"});
        return;
      }
      const auto timeout = std::clamp(job->timeout, std::chrono::milliseconds(1), st.s.request_timeout);
      const auto node = address.node;
      const auto id = st.next_id++;
      auto& peer = st.peers[node];
      if (peer.host != address.host || peer.port != address.port) readdress(self, node, address.host, address.port);
      st.sends.emplace(id, PendingSend{std::move(job), node, timeout, Clock::now() + timeout, false});
      self->delayed_send(self, timeout, expire_atom::value, id);
      route(self, node, id);
    },
    // Connect ahead of the first send (a member seen in the membership
    // table); a peer that failed recently waits out its backoff.
    [=](warm_atom, const std::string& node, const std::string& host, std::uint16_t port) {
      if (node.empty() || host.empty() || port == 0) return;
      auto& peer = self->state.peers[node];
      if (peer.host != host || peer.port != port) readdress(self, node, host, port);
      if (peer.status == Peer::Status::idle
          || (peer.status == Peer::Status::failed && Clock::now() >= peer.retry_at))
        start_connect(self, node);
    },
    [=](expire_atom, std::uint64_t id) {
      auto& st = self->state;
      auto i = st.sends.find(id);
      if (i == st.sends.end()) return;
      const auto& send = i->second;
      const auto& peer = st.peers[send.node];
      if (send.dispatched)
        finish(self, id, Error{errc::node_unavailable,
                               where(send.node, peer) + " did not answer within " + ms_text(send.timeout) +
                                 "; it may still have run the request: retry with the same idempotency key"});
      else
        finish(self, id, Error{errc::node_unavailable,
                               where(send.node, peer) + " is unreachable: no connection within " +
                                 ms_text(send.timeout) + takeover_hint});
    },
  };
}

} // namespace

caf::actor spawn_request_server(caf::actor_system& sys, ServerSettings settings, std::shared_ptr<ReplyChannel> channel) {
  return sys.spawn(request_server, std::move(settings), std::move(channel));
}

caf::actor spawn_peer_client(caf::actor_system& sys, ClientSettings settings) {
  return sys.spawn(peer_client, std::move(settings));
}

void post_send(const caf::actor& client, SendJobPtr job) {
  caf::anon_send(client, send_atom::value, std::move(job));
}

void post_connect(const caf::actor& client, const PeerAddress& peer) {
  caf::anon_send(client, warm_atom::value, peer.node, peer.host, peer.port);
}

} // namespace annals::cluster::detail
