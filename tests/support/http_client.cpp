#include "http_client.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>

#include <array>

namespace annals::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;

std::string HttpResponse::header(http::field f) const { return std::string(headers[f]); }
json::value HttpResponse::json() const { return json::parse(body); }
std::string HttpResponse::code() const {
  // A problem (RFC 9457) carries annals' code as "code"; a command result as error.code.
  auto v = json::parse(body);
  if (auto* code = v.as_object().if_contains("code"); code && code->is_string()) return std::string(code->as_string());
  auto* err = v.as_object().if_contains("error");
  return err ? std::string(err->as_object().at("code").as_string()) : std::string{};
}
std::string HttpResponse::str(std::string_view key) const {
  return std::string(json().as_object().at(key).as_string());
}
std::int64_t HttpResponse::integer(std::string_view key) const { return json().as_object().at(key).as_int64(); }

HttpConnection::HttpConnection(std::uint16_t port, std::chrono::milliseconds timeout)
  : stream_(ioc_), timeout_(timeout) {
  beast::error_code ec;
  stream_.expires_after(timeout_);
  stream_.async_connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                        [&](beast::error_code e) { ec = e; });
  run();
  if (ec) throw beast::system_error(ec);
}

HttpResponse HttpConnection::request(http::verb verb, const std::string& target, const std::string& body,
                                     const HttpHeaders& headers, unsigned version) {
  http::request<http::string_body> req{verb, target, version};
  req.set(http::field::host, "127.0.0.1");
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty() || verb == http::verb::post) {
    if (req.find(http::field::content_type) == req.end()) req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
  }
  beast::error_code ec;
  stream_.expires_after(timeout_);
  http::async_write(stream_, req, [&](beast::error_code e, std::size_t) { ec = e; });
  run();
  if (ec) throw beast::system_error(ec);
  return read_response(verb == http::verb::head);
}

void HttpConnection::send_raw(const std::string& bytes) {
  beast::error_code ec;
  stream_.expires_after(timeout_);
  net::async_write(stream_, net::buffer(bytes), [&](beast::error_code e, std::size_t) { ec = e; });
  run();
  if (ec) throw beast::system_error(ec);
}

HttpResponse HttpConnection::read_response(bool head) {
  http::response_parser<http::string_body> parser;
  parser.body_limit(64u << 20);
  parser.skip(head);  // the answer to HEAD has GET's Content-Length but no body
  beast::error_code ec;
  stream_.expires_after(timeout_);
  http::async_read(stream_, buffer_, parser, [&](beast::error_code e, std::size_t) { ec = e; });
  run();
  if (ec) throw beast::system_error(ec);
  auto msg = parser.release();
  HttpResponse r;
  r.status = msg.result_int();
  r.keep_alive = msg.keep_alive();
  r.body = std::move(msg.body());
  for (const auto& f : msg) r.headers.insert(f.name_string(), f.value());
  return r;
}

std::string HttpConnection::read_until(const std::string& needle, std::chrono::milliseconds limit) {
  std::string got(static_cast<const char*>(buffer_.data().data()), buffer_.size());
  buffer_.consume(buffer_.size());
  const auto deadline = std::chrono::steady_clock::now() + limit;
  std::array<char, 4096> buf;
  while (got.find(needle) == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    beast::error_code ec;
    std::size_t n = 0;
    stream_.expires_after(left);
    stream_.async_read_some(net::buffer(buf), [&](beast::error_code e, std::size_t k) {
      ec = e;
      n = k;
    });
    run();
    got.append(buf.data(), n);
    if (ec) break;
  }
  return got;
}

bool HttpConnection::closed_by_server(std::chrono::milliseconds limit) {
  std::array<char, 4096> buf;
  for (;;) {
    beast::error_code ec;
    stream_.expires_after(limit);
    stream_.async_read_some(net::buffer(buf), [&](beast::error_code e, std::size_t) { ec = e; });
    run();
    if (ec == beast::error::timeout) return false;
    if (ec) return true;  // eof or reset
  }
}

std::size_t HttpConnection::bytes_waiting() {
  beast::error_code ec;
  const auto n = stream_.socket().available(ec);
  return ec ? 0 : n + buffer_.size();
}

void HttpConnection::run() {
  ioc_.restart();
  ioc_.run();
}

} // namespace annals::test
