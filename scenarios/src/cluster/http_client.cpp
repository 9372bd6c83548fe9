#include "http_client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <optional>

namespace annals::scenarios::cluster_run {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

struct HttpClient::Impl {
  net::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  std::chrono::milliseconds timeout;

  // Runs the pending asynchronous operation to its end (the stream's timer bounds it).
  void run() {
    ioc.restart();
    ioc.run();
  }

  beast::error_code connect(std::uint16_t port) {
    stream.emplace(ioc);
    buffer.clear();
    beast::error_code ec;
    stream->expires_after(timeout);
    stream->async_connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                          [&](beast::error_code e) { ec = e; });
    run();
    if (ec) stream.reset();
    return ec;
  }

  beast::error_code exchange(const http::request<http::string_body>& req, http::response<http::string_body>& res) {
    beast::error_code ec;
    stream->expires_after(timeout);
    http::async_write(*stream, req, [&](beast::error_code e, std::size_t) { ec = e; });
    run();
    if (ec) return ec;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64u << 20);
    stream->expires_after(timeout);
    http::async_read(*stream, buffer, parser, [&](beast::error_code e, std::size_t) { ec = e; });
    run();
    if (!ec) res = parser.release();
    return ec;
  }
};

HttpClient::HttpClient(std::uint16_t port, std::chrono::milliseconds timeout) : impl_(new Impl), port_(port) {
  impl_->timeout = timeout;
}

HttpClient::~HttpClient() = default;

HttpAnswer HttpClient::request(const std::string& target, bool post, const std::string& body) {
  http::request<http::string_body> req{post ? http::verb::post : http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (post) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
  }
  HttpAnswer a;
  // A kept-alive connection may have been closed by the node meanwhile: one more try on a new one,
  // unless the first try timed out (the node may be paused: another try would wait as long).
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = impl_->stream.has_value();
    if (!reused)
      if (auto ec = impl_->connect(port_)) {
        a.error = ec == beast::error::timeout ? "timed out connecting" : ec.message();
        return a;
      }
    http::response<http::string_body> res;
    auto ec = impl_->exchange(req, res);
    if (!ec) {
      a.status = res.result_int();
      a.body = std::move(res.body());
      if (!res.keep_alive()) impl_->stream.reset();
      return a;
    }
    impl_->stream.reset();
    a.error = ec == beast::error::timeout ? "no answer within " + std::to_string(impl_->timeout.count()) + " ms"
                                          : ec.message();
    if (!reused || ec == beast::error::timeout) break;
  }
  return a;
}

std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
    else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

} // namespace annals::scenarios::cluster_run
