// NodeTransport (annals::cluster): requests between the nodes of a cluster
// and their replies, TLS and the handshake's refusals, fail-fast on a killed
// or paused peer (G8), and the start errors. Nodes in this process on
// 127.0.0.1 (one actor system each), and annals_test_transport_peer as a
// child process where a peer must die or pause.

#include "transport_test_support.hpp"
#include "text.hpp"
#include "wait_until.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

using namespace annals;
using namespace annals::cluster;
using namespace annals::test;

namespace {

/// 64 KiB of every byte value (NUL included) and UTF-8 text.
std::string odd_payload() {
  std::string s;
  while (s.size() < 64 * 1024) {
    for (int b = 0; b < 256; ++b) s.push_back(static_cast<char>(b));
    s += "Zürich – 東京 – €";
  }
  s.resize(64 * 1024);
  return s;
}

std::string start_error(TransportOptions options) {
  try {
    NodeTransport t(std::move(options), echo_handler());
  } catch (const TransportError& e) {
    return e.what();
  }
  return "(no error: the transport started)";
}

} // namespace

SCENARIO("a request and its reply arrive unchanged between two nodes with TLS from the cluster's CA") {
  ClusterCerts certs;
  GIVEN("nodes a and b with certificates from the cluster's CA; b answers with the sender's name and the request") {
    auto oa = node_options("prod", "a");
    oa.tls = certs.of("a");
    auto ob = node_options("prod", "b");
    ob.tls = certs.of("b");
    std::mutex mtx;
    std::vector<Reply> later;
    NodeTransport b(ob, [&](std::string from, std::string request, Reply reply) {
      if (request == "refuse")
        reply(Error{"insufficient_funds", "balance 5 is below 10 (Zürich – 東京)"});
      else if (request == "later") {
        std::lock_guard<std::mutex> lock(mtx);
        later.push_back(std::move(reply));
      } else
        reply(from + "|" + request);
    });
    NodeTransport a(oa, echo_handler());
    REQUIRE_FALSE(a.connected("b"));

    WHEN("a sends 64 KiB of every byte value and UTF-8 text to b") {
      const auto payload = odd_payload();
      auto out = send_and_wait(a, address_of("b", b), payload);
      THEN("the reply is b's answer byte for byte, an Error comes back as that Error, a late reply from another "
           "thread arrives, and the connection is up") {
        REQUIRE(out.result);
        REQUIRE(out.result->has_value());
        CHECK(out.result->value().size() == payload.size() + 2);
        CHECK(out.result->value() == "a|" + payload);
        CHECK(out.calls == 1);
        CHECK(a.connected("b"));

        auto refused = send_and_wait(a, address_of("b", b), "refuse");
        REQUIRE(refused.result);
        REQUIRE_FALSE(refused.result->has_value());
        CHECK(refused.result->error().code == "insufficient_funds");
        CHECK(refused.result->error().message == "balance 5 is below 10 (Zürich – 東京)");

        PendingSend pending(a, address_of("b", b), "later", 10s);
        REQUIRE(wait_until([&] { std::lock_guard<std::mutex> lock(mtx); return later.size() == 1; }));
        std::thread([&] { later.front()(std::string("answered later")); }).join();
        auto late = pending.wait();
        REQUIRE(late.result);
        REQUIRE(late.result->has_value());
        CHECK(late.result->value() == "answered later");

        // And the other way, while a's connection to b is up.
        auto back = send_and_wait(b, address_of("a", a), "back");
        REQUIRE(back.result);
        INFO((back.result->has_value() ? std::string("ok") : back.result->error().message));
        REQUIRE(back.result->has_value());
        CHECK(back.result->value() == "back");
      }
    }
  }
}

SCENARIO("without TLS, nodes exchange requests both ways, and a handler that throws or drops its reply answers "
         "internal_error") {
  GIVEN("nodes a and b without TLS; b's handler throws on 'throw' and drops the reply of 'drop'") {
    NodeTransport a(node_options("dev", "a"), echo_handler());
    NodeTransport b(node_options("dev", "b"), [](std::string, std::string request, Reply reply) {
      if (request == "throw") throw std::runtime_error("no such account");
      if (request == "drop") return;  // the Reply goes without an answer
      reply("b:" + request);
    });
    WHEN("each sends to the other, then a sends 'throw' and 'drop' to b") {
      auto ab = send_and_wait(a, address_of("b", b), "hello");
      auto ba = send_and_wait(b, address_of("a", a), "hi");
      auto thrown = send_and_wait(a, address_of("b", b), "throw");
      auto dropped = send_and_wait(a, address_of("b", b), "drop");
      THEN("the replies arrive, and the handler's failures are internal_error at once (not a timeout)") {
        REQUIRE(ab.result);
        REQUIRE(ab.result->has_value());
        CHECK(ab.result->value() == "b:hello");
        REQUIRE(ba.result);
        REQUIRE(ba.result->has_value());
        CHECK(ba.result->value() == "hi");
        REQUIRE(thrown.result);
        REQUIRE_FALSE(thrown.result->has_value());
        CHECK(thrown.result->error().code == "internal_error");
        CHECK(thrown.result->error().message == "the request handler of node 'b' threw: no such account");
        REQUIRE(dropped.result);
        REQUIRE_FALSE(dropped.result->has_value());
        CHECK(dropped.result->error().code == "internal_error");
        CHECK(contains(dropped.result->error().message, "dropped the request without an answer"));
        CHECK(dropped.took < 5s);
      }
    }
  }
}

SCENARIO("a node with a certificate from another CA is refused, so is a node without TLS, and the TLS node goes "
         "on serving the cluster's nodes") {
  ClusterCerts certs;
  GIVEN("node b with TLS, node a of the cluster, a rogue with a certificate from a foreign CA, and c without TLS") {
    auto ob = node_options("prod", "b");
    ob.tls = certs.of("b");
    NodeTransport b(ob, echo_handler());
    auto oa = node_options("prod", "a");
    oa.tls = certs.of("a");
    NodeTransport a(oa, echo_handler());
    CapturedLog rogue_log;
    auto orogue = node_options("prod", "rogue");
    orogue.tls = certs.rogue();
    orogue.logger = logger_into(rogue_log);
    NodeTransport rogue(orogue, echo_handler());
    CapturedLog plain_log;
    auto oc = node_options("prod", "c");
    oc.logger = logger_into(plain_log);
    NodeTransport c(oc, echo_handler());

    WHEN("the rogue sends to b, then a, then c, then a again") {
      auto from_rogue = send_and_wait(rogue, address_of("b", b), "let me in");
      auto from_a = send_and_wait(a, address_of("b", b), "ping");
      auto from_c = send_and_wait(c, address_of("b", b), "let me in");
      auto from_a_again = send_and_wait(a, address_of("b", b), "ping again");
      THEN("the rogue's and c's sends fail with node_unavailable naming the refusal, logged; a's succeed") {
        REQUIRE(from_rogue.result);
        REQUIRE_FALSE(from_rogue.result->has_value());
        CHECK(from_rogue.result->error().code == "node_unavailable");
        CHECK(from_rogue.result->error().message ==
              "node 'b' at 127.0.0.1:" + std::to_string(b.port()) +
                " is refused: the TLS handshake failed: its certificate is not from this cluster's CA, or it does "
                "not use TLS; check the cluster's name, the node names and the certificates of both nodes");
        CHECK(from_rogue.took < 5s);
        CHECK(rogue_log.of("cluster.peer_refused").size() == 1);
        CHECK_FALSE(rogue.connected("b"));

        REQUIRE(from_c.result);
        REQUIRE_FALSE(from_c.result->has_value());
        CHECK(from_c.result->error().code == "node_unavailable");
        CHECK(contains(from_c.result->error().message, "is refused: it closed the connection during the handshake"));
        CHECK(plain_log.of("cluster.peer_refused").size() == 1);

        for (auto* ok : {&from_a, &from_a_again}) {
          REQUIRE(ok->result);
          INFO((ok->result->has_value() ? std::string() : ok->result->error().message));
          REQUIRE(ok->result->has_value());
        }
        CHECK(from_a.result->value() == "ping");
        CHECK(from_a_again.result->value() == "ping again");
      }
    }
  }
}

SCENARIO("a node of another cluster is refused on both sides, and so is a node that is not the one addressed") {
  GIVEN("node a of cluster 'east', nodes b and x of cluster 'west', each logging") {
    CapturedLog alog, blog;
    auto oa = node_options("east", "a");
    oa.logger = logger_into(alog);
    auto ob = node_options("west", "b");
    ob.logger = logger_into(blog);
    NodeTransport a(oa, echo_handler());
    NodeTransport b(ob, echo_handler());
    NodeTransport x(node_options("west", "x"), echo_handler());
    WHEN("a sends to b, and x sends to b's address under the name 'c'") {
      auto cross = send_and_wait(a, address_of("b", b), "hello");
      auto misnamed = send_and_wait(x, {"c", "127.0.0.1", b.port()}, "hello");
      THEN("both fail with node_unavailable naming the reason; both sides log cluster.peer_refused") {
        REQUIRE(cross.result);
        REQUIRE_FALSE(cross.result->has_value());
        CHECK(cross.result->error().code == "node_unavailable");
        CHECK(cross.result->error().message ==
              "node 'b' at 127.0.0.1:" + std::to_string(b.port()) +
                " is refused: node 'a' belongs to cluster 'east', node 'b' to cluster 'west'; check the cluster's "
                "name, the node names and the certificates of both nodes");
        REQUIRE(alog.of("cluster.peer_refused").size() == 1);
        CHECK(alog.of("cluster.peer_refused").front().level == LogLevel::warn);
        REQUIRE(misnamed.result);
        REQUIRE_FALSE(misnamed.result->has_value());
        CHECK(contains(misnamed.result->error().message,
                       "is refused: node 'x' expected node 'c' at this address, but this is node 'b'"));
        const auto refusals = blog.of("cluster.peer_refused");
        REQUIRE(refusals.size() == 2);
        CHECK(refusals[0].message == "refused a connecting node: node 'a' belongs to cluster 'east', node 'b' to "
                                     "cluster 'west'");
        CHECK(contains(refusals[1].message, "node 'x' expected node 'c'"));
        CHECK_FALSE(a.connected("b"));
      }
    }
  }
}

namespace {

const auto heartbeat = 100ms;
const auto connection_timeout = 1000ms;

std::vector<std::string> peer_args(const std::string& node, std::uint16_t port) {
  return {"--cluster", "prod", "--node", node, "--port", std::to_string(port),
          "--heartbeat-ms", std::to_string(heartbeat.count()),
          "--connection-timeout-ms", std::to_string(connection_timeout.count())};
}

TransportOptions client_options(CapturedLog& log) {
  auto o = node_options("prod", "a");
  o.heartbeat_interval = heartbeat;
  o.connection_timeout = connection_timeout;
  o.request_timeout = 30s;   // far above what any of these sends may take
  o.reconnect_backoff_max = 1s;
  o.logger = logger_into(log);
  return o;
}

} // namespace

SCENARIO("G8 a command to a killed owner fails fast with node_unavailable, the next ones too, and the restarted "
         "owner is reached again") {
  GIVEN("node a in this process and node b in a child process, connected; request timeout 30 s") {
    CapturedLog log;
    NodeTransport a(client_options(log), echo_handler());
    auto b = std::make_unique<PeerProcess>(peer_args("b", 0));
    const auto port = b->port();
    const PeerAddress to_b{"b", "127.0.0.1", port};
    auto warm = send_and_wait(a, to_b, "ping");
    REQUIRE(warm.result);
    REQUIRE(warm.result->has_value());

    WHEN("b is killed with a request in flight, then a sends three more, then b restarts on its port, then on a new one") {
      PendingSend in_flight(a, to_b, "hold", 30s);
      REQUIRE(b->read_line() == "held");
      const auto killed_at = Clock::now();
      b->kill();
      auto lost = in_flight.wait();

      std::vector<SendOutcome> after;
      for (int i = 0; i < 3; ++i) after.push_back(send_and_wait(a, to_b, "ping", 30s));

      b = std::make_unique<PeerProcess>(peer_args("b", port));
      REQUIRE(b->port() == port);
      std::optional<SendOutcome> back;
      const bool reached = wait_until([&] {
        auto out = send_and_wait(a, to_b, "ping again", 30s);
        if (out.result && out.result->has_value()) back = out;
        return back.has_value();
      }, 20s);

      b->kill();
      b = std::make_unique<PeerProcess>(peer_args("b", 0));
      const PeerAddress moved{"b", "127.0.0.1", b->port()};
      auto at_new_port = send_and_wait(a, moved, "ping there", 30s);

      THEN("the request in flight fails within 1 s as node_unavailable, each later send within 1 s, and the "
           "restarted b answers on its old port and at once on a new one") {
        REQUIRE(lost.result);
        REQUIRE_FALSE(lost.result->has_value());
        CHECK(lost.result->error().code == "node_unavailable");
        CHECK(lost.result->error().message ==
              "node 'b' at 127.0.0.1:" + std::to_string(port) +
                " is unreachable: the connection was lost (the process ended, or it sent no heartbeat within the "
                "connection timeout (paused, or the network dropped)); its shards are taken over when its lease "
                "expires");
        const auto lost_after = std::chrono::duration_cast<std::chrono::milliseconds>(lost.done_at - killed_at);
        INFO("in flight failed " << lost_after.count() << " ms after the kill");
        CHECK(lost_after < 1s);
        CHECK(log.of("cluster.peer_lost").size() == 2);  // each kill of a connected b
        for (const auto& out : after) {
          REQUIRE(out.result);
          REQUIRE_FALSE(out.result->has_value());
          CHECK(out.result->error().code == "node_unavailable");
          CHECK(contains(out.result->error().message, "is unreachable: cannot connect (nothing listens there)"));
          INFO("a send after the kill took " << out.took.count() << " ms");
          CHECK(out.took < 1s);
        }
        REQUIRE(reached);
        CHECK(back->result->value() == "ping again");
        REQUIRE(at_new_port.result);
        REQUIRE(at_new_port.result->has_value());
        CHECK(at_new_port.result->value() == "ping there");
        CHECK(a.connected("b"));
      }
    }
  }
}

SCENARIO("G8 a command to a paused owner fails within the connection timeout as node_unavailable, and succeeds "
         "again once it resumes") {
  GIVEN("node a in this process, node b in a child process, connected; heartbeat 100 ms, connection timeout 1 s, "
        "request timeout 30 s") {
    CapturedLog log;
    NodeTransport a(client_options(log), echo_handler());
    PeerProcess b(peer_args("b", 0));
    const PeerAddress to_b{"b", "127.0.0.1", b.port()};
    auto warm = send_and_wait(a, to_b, "ping");
    REQUIRE(warm.result);
    REQUIRE(warm.result->has_value());

    WHEN("b is paused (SIGSTOP) with a request in flight, then resumed (SIGCONT)") {
      PendingSend in_flight(a, to_b, "hold", 30s);
      REQUIRE(b.read_line() == "held");
      const auto paused_at = Clock::now();
      b.signal(SIGSTOP);
      auto lost = in_flight.wait();
      auto while_paused = send_and_wait(a, to_b, "ping", 30s);
      b.signal(SIGCONT);
      std::optional<SendOutcome> back;
      const bool reached = wait_until([&] {
        auto out = send_and_wait(a, to_b, "ping again", 30s);
        if (out.result && out.result->has_value()) back = out;
        return back.has_value();
      }, 30s);

      THEN("the request in flight fails as node_unavailable within connection timeout + heartbeat + 1 s, a send "
           "while paused fails within the connection timeout + 1 s, and after SIGCONT sends succeed") {
        REQUIRE(lost.result);
        REQUIRE_FALSE(lost.result->has_value());
        CHECK(lost.result->error().code == "node_unavailable");
        CHECK(contains(lost.result->error().message, "is unreachable: the connection was lost"));
        const auto lost_after = std::chrono::duration_cast<std::chrono::milliseconds>(lost.done_at - paused_at);
        INFO("in flight failed " << lost_after.count() << " ms after SIGSTOP");
        CHECK(lost_after < connection_timeout + heartbeat + 1s);
        REQUIRE(while_paused.result);
        REQUIRE_FALSE(while_paused.result->has_value());
        CHECK(while_paused.result->error().code == "node_unavailable");
        INFO("a send while paused took " << while_paused.took.count() << " ms: " << while_paused.result->error().message);
        CHECK(while_paused.took < connection_timeout + 1s);
        CHECK(contains(while_paused.result->error().message, "is unreachable: "));
        REQUIRE(reached);
        CHECK(back->result->value() == "ping again");
      }
    }
  }
}

SCENARIO("a send that gets no reply within its timeout fails with node_unavailable saying so") {
  GIVEN("node b whose handler keeps the request without answering, and node a") {
    std::mutex mtx;
    std::vector<Reply> kept;
    NodeTransport b(node_options("dev", "b"), [&](std::string, std::string, Reply reply) {
      std::lock_guard<std::mutex> lock(mtx);
      kept.push_back(std::move(reply));
    });
    auto oa = node_options("dev", "a");
    oa.request_timeout = 300ms;
    NodeTransport a(oa, echo_handler());
    WHEN("a sends with a timeout of 200 ms, and one of 10 s (above its request timeout of 300 ms)") {
      auto short_one = send_and_wait(a, address_of("b", b), "x", 200ms);
      auto capped = send_and_wait(a, address_of("b", b), "y", 10s);
      THEN("each fails after its timeout, cut to the request timeout") {
        REQUIRE(short_one.result);
        REQUIRE_FALSE(short_one.result->has_value());
        CHECK(short_one.result->error().code == "node_unavailable");
        CHECK(short_one.result->error().message ==
              "node 'b' at 127.0.0.1:" + std::to_string(b.port()) +
                " did not answer within 200 ms; it may still have run the request: retry with the same "
                "idempotency key");
        CHECK(short_one.took >= 200ms);
        REQUIRE(capped.result);
        REQUIRE_FALSE(capped.result->has_value());
        CHECK(contains(capped.result->error().message, "did not answer within 300 ms"));
        CHECK(capped.took < 5s);
      }
    }
    std::lock_guard<std::mutex> lock(mtx);
    kept.clear();
  }
}

SCENARIO("sends still pending when a transport stops complete with node_unavailable") {
  GIVEN("node b that never answers, and node a with a send to b in flight") {
    std::mutex mtx;
    std::vector<Reply> kept;
    NodeTransport b(node_options("dev", "b"), [&](std::string, std::string, Reply reply) {
      std::lock_guard<std::mutex> lock(mtx);
      kept.push_back(std::move(reply));
    });
    auto a = std::make_unique<NodeTransport>(node_options("dev", "a"), echo_handler());
    PendingSend pending(*a, address_of("b", b), "x", 30s);
    REQUIRE(wait_until([&] { std::lock_guard<std::mutex> lock(mtx); return kept.size() == 1; }));
    WHEN("a stops") {
      const auto t0 = Clock::now();
      a.reset();
      auto out = pending.wait(10s);
      THEN("the send completes once with node_unavailable, and stopping did not wait for it") {
        REQUIRE(out.result);
        REQUIRE_FALSE(out.result->has_value());
        CHECK(out.result->error().code == "node_unavailable");
        CHECK(out.result->error().message == "this node's transport stopped before node 'b' answered");
        CHECK(out.calls == 1);
        CHECK(since(t0) < 5s);
      }
    }
    std::lock_guard<std::mutex> lock(mtx);
    kept.clear();  // replies after a's stop go nowhere, b still runs
  }
}

SCENARIO("start errors are one-line TransportErrors saying what to fix") {
  ClusterCerts certs;
  REQUIRE(run_shell("openssl pkey -in " + certs.file("a.key") + " -aes256 -passout pass:secret -out " +
                    certs.file("a-enc.key") + " 2>/dev/null") == 0);
  std::filesystem::create_directory(certs.file("a-dir.key"));
  auto with_tls = [&](TlsFiles files) {
    auto o = node_options("prod", "a");
    o.tls = std::move(files);
    return start_error(std::move(o));
  };
  const auto a = certs.of("a");
  const auto dir = certs.dir();

  CHECK(with_tls({dir + "/nope.pem", a.key, a.cafile, ""}) ==
        "TLS certificate file " + dir + "/nope.pem does not exist; fix the path or make the cluster's files with "
        "scripts/make-cluster-certs.sh (docs/cluster.md)");
  CHECK(with_tls({a.certificate, dir + "/a-dir.key", a.cafile, ""}) ==
        "TLS key file " + dir + "/a-dir.key is a directory, not a file; give the PEM file's path");
  CHECK(with_tls({a.certificate, a.certificate, a.cafile, ""}) ==
        "TLS key file " + a.certificate +
          " holds no PEM private key (-----BEGIN PRIVATE KEY-----); give the node's key");
  CHECK(with_tls({a.key, a.key, a.cafile, ""}) ==
        "TLS certificate file " + a.key +
          " holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the node's certificate");
  CHECK(with_tls({a.certificate, dir + "/a-enc.key", a.cafile, "wrong"}) ==
        "TLS key file " + dir + "/a-enc.key does not decrypt with the given passphrase; give the passphrase it "
        "was encrypted with");
  CHECK(with_tls({a.certificate, dir + "/a-enc.key", a.cafile, ""}) ==
        "TLS key file " + dir + "/a-enc.key is encrypted and no passphrase is given; give its passphrase");
  CHECK(with_tls({"", "", a.cafile, ""}) ==
        "TLS is only partly configured: certificate, key missing; give the node's certificate, its key and the "
        "cluster's CA certificate (all three)");
  CHECK(with_tls({a.certificate, certs.file("b.key"), a.cafile, ""}) ==
        "TLS key file " + certs.file("b.key") + " is not the key of the certificate " + a.certificate +
          "; give the key made with that certificate");
  CHECK(with_tls({certs.file("rogue.pem"), certs.file("rogue.key"), a.cafile, ""}) ==
        "TLS certificate " + certs.file("rogue.pem") + " does not verify against the CA " + a.cafile +
          " (unable to get local issuer certificate); give a certificate signed by the cluster's CA");
  // The control: the same encrypted key with its passphrase starts.
  CHECK(with_tls({a.certificate, dir + "/a-enc.key", a.cafile, "secret"}) == "(no error: the transport started)");

  NodeTransport holder(node_options("prod", "holder"), echo_handler());
  auto o = node_options("prod", "a");
  o.port = holder.port();
  CHECK(start_error(o) == "cannot listen on 127.0.0.1:" + std::to_string(holder.port()) +
                            ": the port is in use; stop the process that holds it or choose another port (0: any "
                            "free one)");
  auto bad = node_options("prod", "a");
  bad.connection_timeout = bad.heartbeat_interval;
  CHECK(contains(start_error(bad), "must be longer than the heartbeat interval"));
}

SCENARIO("a node whose key is encrypted talks TLS with its passphrase") {
  ClusterCerts certs;
  REQUIRE(run_shell("openssl pkey -in " + certs.file("a.key") + " -aes256 -passout pass:secret -out " +
                    certs.file("a-enc.key") + " 2>/dev/null") == 0);
  auto oa = node_options("prod", "a");
  oa.tls = TlsFiles{certs.file("a.pem"), certs.file("a-enc.key"), certs.file("ca.pem"), "secret"};
  auto ob = node_options("prod", "b");
  ob.tls = certs.of("b");
  NodeTransport a(oa, echo_handler());
  NodeTransport b(ob, echo_handler());
  auto ab = send_and_wait(a, address_of("b", b), "to b");
  auto ba = send_and_wait(b, address_of("a", a), "to a");
  REQUIRE(ab.result);
  REQUIRE(ab.result->has_value());
  CHECK(ab.result->value() == "to b");
  REQUIRE(ba.result);
  INFO((ba.result->has_value() ? std::string() : ba.result->error().message));
  REQUIRE(ba.result->has_value());
  CHECK(ba.result->value() == "to a");
}
