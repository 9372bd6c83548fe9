#pragma once
// A small synchronous HTTP/1.1 client (Boost.Beast) for the runner's talk
// with its nodes on loopback: one keep-alive connection, reconnected when a
// request finds it broken; every step bounded by a timeout.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace annals::scenarios::cluster_run {

struct HttpAnswer {
  unsigned status = 0;  ///< 0: no answer (see error)
  std::string body;
  std::string error;    ///< why there was no answer: "connection refused", "timed out", ...
};

class HttpClient {
public:
  HttpClient(std::uint16_t port, std::chrono::milliseconds timeout);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// GET when `body` is empty and `post` false; POST with a JSON body otherwise.
  HttpAnswer request(const std::string& target, bool post = false, const std::string& body = {});
  std::uint16_t port() const { return port_; }

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::uint16_t port_;
};

/// `s` for a URL's path or query ("%22acc-1%22").
std::string url_encode(const std::string& s);

} // namespace annals::scenarios::cluster_run
