#pragma once
// A small synchronous HTTP/1.1 client over Beast for tests that talk to a
// server on loopback (the bank service tests, the crash driver). Every step
// is bounded by a timeout, so a misbehaving server fails the test instead of
// hanging it.

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace annals::test {

/// An answer as received; the helpers read a JSON body.
struct HttpResponse {
  unsigned status = 0;
  std::string body;
  boost::beast::http::fields headers;
  bool keep_alive = true;  // false: the server closes the connection after this answer

  std::string header(boost::beast::http::field f) const;
  boost::json::value json() const;
  /// error.code of the JSON body, or "".
  std::string code() const;
  std::string str(std::string_view key) const;
  std::int64_t integer(std::string_view key) const;
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

/// One keep-alive connection to 127.0.0.1:port. Throws
/// boost::system::system_error when a step fails or times out.
class HttpConnection {
public:
  explicit HttpConnection(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(30));

  /// Sends a request (a POST or a non-empty body as application/json) and reads its answer.
  HttpResponse request(boost::beast::http::verb verb, const std::string& target, const std::string& body = {},
                       const HttpHeaders& headers = {}, unsigned version = 11);
  /// Writes bytes as they are (a malformed or partial request).
  void send_raw(const std::string& bytes);
  HttpResponse read_response(bool head = false);
  /// Raw bytes (what is buffered first) until `needle` is among them, the
  /// server closes, or `limit` passes; all that was read.
  std::string read_until(const std::string& needle, std::chrono::milliseconds limit);
  /// Waits up to `limit` for the server to close the connection; true if it did.
  bool closed_by_server(std::chrono::milliseconds limit);
  /// Bytes the server has sent that were not read yet (0: no answer so far).
  std::size_t bytes_waiting();

private:
  void run();

  boost::asio::io_context ioc_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::chrono::milliseconds timeout_;
};

} // namespace annals::test
