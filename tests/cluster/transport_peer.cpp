// annals_test_transport_peer: a node of its own process for the transport
// tests (killed with SIGKILL, paused with SIGSTOP). It serves an echo
// handler: the reply is the request's bytes; a request "hold" is kept
// unanswered (in flight until the test kills or pauses this process) and
// reported with a line "held" on stdout. It prints "port N" once listening,
// and stops cleanly on SIGTERM.
//
// usage: annals_test_transport_peer --cluster C --node N [--port P]
//        [--heartbeat-ms H] [--connection-timeout-ms T] [--tls-dir DIR]

#include <annals/cluster/node_transport.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  using namespace annals::cluster;
  TransportOptions options;
  std::string tls_dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--cluster") options.cluster = value;
    else if (flag == "--node") options.node = value;
    else if (flag == "--port") options.port = static_cast<std::uint16_t>(std::stoi(value));
    else if (flag == "--heartbeat-ms") options.heartbeat_interval = std::chrono::milliseconds(std::stoi(value));
    else if (flag == "--connection-timeout-ms") options.connection_timeout = std::chrono::milliseconds(std::stoi(value));
    else if (flag == "--tls-dir") tls_dir = value;
    else {
      std::cerr << "unknown option " << flag << "\n";
      return 2;
    }
  }
  if (!tls_dir.empty())
    options.tls = TlsFiles{tls_dir + "/" + options.node + ".pem", tls_dir + "/" + options.node + ".key",
                           tls_dir + "/ca.pem", ""};

  // SIGTERM is taken with sigwait below, not by a handler.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  std::mutex mtx;
  std::vector<Reply> held;
  try {
    NodeTransport transport(options, [&](std::string, std::string request, Reply reply) {
      if (request == "hold") {
        std::lock_guard<std::mutex> lock(mtx);
        held.push_back(std::move(reply));
        std::cout << "held" << std::endl;
        return;
      }
      reply(std::move(request));
    });
    std::cout << "port " << transport.port() << std::endl;
    int sig = 0;
    sigwait(&stop, &sig);
    for (auto& r : held) r(annals::Error{"shutting_down", "the peer stops"});
  } catch (const TransportError& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  return 0;
}
