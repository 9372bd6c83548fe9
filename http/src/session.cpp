// The HTTP service: one HTTP connection (Session): reading requests, routing
// them to the runtime (commands, queries, health, metrics), writing replies.
#include "service_impl.hpp"

#include "annals/http/http_mapping.hpp"

#include <annals/persistence/store_error.hpp>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <cctype>
#include <cstdio>
#include <functional>

namespace annals::http {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace json = boost::json;

namespace {


constexpr std::string_view kJson = "application/json";
constexpr std::string_view kMetricsType = "text/plain; version=0.0.4";

/// After an error response on a connection we stop using, we keep reading
/// (and discarding) for a moment so that the client sees the response
/// instead of a reset caused by its unread upload.
constexpr std::chrono::milliseconds kLingerTime{2000};
constexpr std::size_t kLingerBytes = 16u << 20;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

/// The token of "Authorization: Bearer <token>", or nullopt.
std::optional<std::string> bearer_token(const bhttp::request<bhttp::string_body>& req) {
  auto it = req.find(bhttp::field::authorization);
  if (it == req.end()) return std::nullopt;
  std::string_view v(it->value().data(), it->value().size());
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  v = trim(v);
  const auto sp = v.find_first_of(" \t");
  if (sp == std::string_view::npos || !iequals(v.substr(0, sp), "bearer")) return std::nullopt;
  auto token = trim(v.substr(sp + 1));
  if (token.empty()) return std::nullopt;
  return std::string(token);
}

/// At most 200 characters of `s` for a message, anything but printable ASCII as '?'.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 200)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (s.size() > 200) out += "...";
  return out;
}

struct Reply {
  unsigned status = 200;
  std::string body;
  std::string_view content_type = kJson;
  std::vector<std::pair<bhttp::field, std::string>> headers;
};

Reply json_reply(unsigned status, const json::value& v) { return Reply{status, json::serialize(v), kJson, {}}; }

Reply error_reply(unsigned status, std::string_view code, std::string message) {
  return json_reply(status, error_body(code, std::move(message)));
}

} // namespace

class Session : public std::enable_shared_from_this<Session> {
public:
  Session(Service::Impl& svc, tcp::socket socket) : svc_(svc), stream_(std::move(socket)) {}
  ~Session() { svc_.unregister_session(this); }

  void start(bool overloaded) {
    net::dispatch(stream_.get_executor(), [self = shared_from_this(), overloaded] {
      if (overloaded) {
        self->busy_ = true;
        Reply r = error_reply(503, annals::errc::overloaded,
                              "too many open connections (max_connections = "
                                + std::to_string(self->svc_.options.max_connections)
                                + "; raise it with --max-connections); retry later");
        r.headers.emplace_back(bhttp::field::retry_after, "1");
        self->send(std::move(r), true);
      } else {
        self->read_header();
      }
    });
  }

  net::any_io_executor executor() { return stream_.get_executor(); }

  /// Posted by Service::stop(): closes the connection unless a request is in progress.
  void stop_if_idle() {
    if (!busy_) close_now();
  }

private:
  // --- reading -------------------------------------------------------------
  void read_header() {
    if (svc_.stopping) return close_now();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(svc_.options.header_limit, UINT32_MAX)));
    parser_->body_limit(svc_.body_limit);
    req_version_ = 11;
    req_keep_alive_ = false;
    stream_.expires_after(svc_.options.idle_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    busy_ = true;
    const auto& req = parser_->get();
    req_version_ = req.version();
    req_keep_alive_ = req.keep_alive();
    if (parser_->is_done()) return handle();
    auto expect = req.find(bhttp::field::expect);
    if (expect != req.end() && iequals(std::string_view(expect->value().data(), expect->value().size()), "100-continue")) {
      // The body fits the limit (the parser checked Content-Length): ask for it.
      auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_, req.version());
      stream_.expires_after(svc_.options.idle_timeout);
      bhttp::async_write(stream_, *cont, [self = shared_from_this(), cont](beast::error_code ec, std::size_t) {
        if (ec) return self->close_now();
        self->read_body();
      });
      return;
    }
    read_body();
  }

  void read_body() {
    stream_.expires_after(svc_.options.idle_timeout);
    bhttp::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->on_read_error(ec);
      self->handle();
    });
  }

  void on_read_error(beast::error_code ec) {
    busy_ = true;  // answering (or closing): stop() leaves it alone
    if (ec == bhttp::error::body_limit)
      return send(error_reply(413, annals::errc::payload_too_large,
                              "the request body is larger than " + std::to_string(svc_.body_limit) + " bytes"),
                  true);
    if (ec == bhttp::error::header_limit)
      return send(Reply{431, json::serialize(error_body("header_too_large",
                                                        "the request head is larger than "
                                                          + std::to_string(svc_.options.header_limit) + " bytes")),
                        kJson, {}},
                  true);
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() && ec != bhttp::error::end_of_stream
        && ec != bhttp::error::partial_message)
      return send(error_reply(400, "bad_request", "malformed HTTP request: " + ec.message()), true);
    // end of stream, timeout, reset, cancelled: nothing to answer.
    close_now();
  }

  // --- routing -------------------------------------------------------------
  void handle() {
    try {
      route();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: internal error handling a request: %s\n", svc_.options.log_name.c_str(), e.what());
      send(error_reply(500, annals::errc::internal_error, std::string("internal error: ") + e.what()));
    }
  }

  void route() {
    auto& req = parser_->get();
    const std::string_view target(req.target().data(), req.target().size());
    if (target.empty() || target.front() != '/')
      return send(error_reply(404, "unknown_path", "no resource '" + printable(target) + "'"));
    const auto qmark = target.find('?');
    const std::string_view raw_path = target.substr(0, qmark);
    const std::string_view raw_query = qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1);

    std::vector<std::string> segments;
    for (std::size_t start = 1; start <= raw_path.size();) {
      auto end = raw_path.find('/', start);
      if (end == std::string_view::npos) end = raw_path.size();
      auto seg = percent_decode(raw_path.substr(start, end - start), false);
      if (!seg || !valid_utf8(*seg))
        return send(error_reply(400, "bad_request", "malformed %-escape or non-UTF-8 text in the path"));
      segments.push_back(std::move(*seg));
      start = end + 1;
    }
    const auto method = req.method();
    auto only = [&](bhttp::verb allowed) {
      if (method == allowed) return true;
      Reply r = error_reply(405, "method_not_allowed",
                            "use " + std::string(bhttp::to_string(allowed)) + " for " + printable(raw_path));
      r.headers.emplace_back(bhttp::field::allow, std::string(bhttp::to_string(allowed)));
      send(std::move(r));
      return false;
    };

    if (segments.size() == 1 && segments[0] == "commands") {
      if (only(bhttp::verb::post)) post_command();
    } else if (segments.size() == 3 && segments[0] == "queries" && !segments[1].empty() && !segments[2].empty()) {
      if (only(bhttp::verb::get)) get_query(segments[1], segments[2], raw_query);
    } else if (segments.size() == 1 && segments[0] == "metrics") {
      if (only(bhttp::verb::get)) get_metrics();
    } else if (segments.size() == 1 && segments[0] == "health") {
      if (only(bhttp::verb::get)) get_health();
    } else {
      send(error_reply(404, "unknown_path", "no resource '" + printable(raw_path) + "'"));
    }
  }

  /// With an auth config: the grant of the request's bearer token, or a 401
  /// sent (nullptr). Without: a dummy grant that is never consulted.
  const TokenGrant* authenticate() {
    static const TokenGrant open{};
    if (!svc_.options.auth) return &open;
    auto token = bearer_token(parser_->get());
    if (!token) {
      Reply r = error_reply(401, "unauthorized", "a bearer token is required: send 'Authorization: Bearer <token>'");
      r.headers.emplace_back(bhttp::field::www_authenticate, "Bearer");
      send(std::move(r));
      return nullptr;
    }
    const TokenGrant* grant = svc_.options.auth->find_token(*token);
    if (!grant) {
      Reply r = error_reply(401, "unauthorized", "unknown bearer token");
      r.headers.emplace_back(bhttp::field::www_authenticate, "Bearer error=\"invalid_token\"");
      send(std::move(r));
      return nullptr;
    }
    return grant;
  }

  void post_command() {
    const TokenGrant* grant = authenticate();
    if (!grant) return;
    auto cmd = annals::parse_command(parser_->get().body(), svc_.runtime->options().limits);
    if (!cmd) {
      // The runtime rejects it again at once (no actor is involved) and
      // counts it under aggregate="(invalid)", command="(invalid)" (docs/metrics.md).
      auto r = svc_.runtime->execute_json(parser_->get().body());
      return send(json_reply(http_status_for(r), r.to_json()));
    }
    if (svc_.options.auth) cmd->metadata.principal = grant->principal;
    if (!enter_waiting()) return;
    svc_.runtime->execute_async(std::move(*cmd), [self = shared_from_this()](annals::CommandResult r) {
      // On a runtime thread (or this one, for early rejections): hand over to the strand.
      self->leave_waiting();
      Reply reply = json_reply(http_status_for(r), r.to_json());
      if (reply.status == 503) reply.headers.emplace_back(bhttp::field::retry_after, "1");
      self->post_send(std::move(reply));
    });
  }

  /// Counts a request that waits for the runtime (a command, a query, a
  /// health check); over max_waiting_requests it sends 503 overloaded
  /// instead and returns false. Each admitted request calls leave_waiting()
  /// once, when its answer is there.
  bool enter_waiting() {
    if (svc_.waiting_requests.fetch_add(1) < svc_.options.max_waiting_requests) return true;
    svc_.leave_waiting();
    Reply r = error_reply(503, annals::errc::overloaded,
                          "too many requests waiting for the runtime (max_waiting_requests = "
                            + std::to_string(svc_.options.max_waiting_requests)
                            + "; raise it with --max-waiting-requests); retry later");
    r.headers.emplace_back(bhttp::field::retry_after, "1");
    send(std::move(r));
    return false;
  }
  void leave_waiting() { svc_.leave_waiting(); }

  /// Sends `reply` from any thread: on the connection's strand.
  void post_send(Reply reply) {
    net::post(stream_.get_executor(),
              [self = shared_from_this(), reply = std::move(reply)]() mutable { self->send(std::move(reply)); });
  }

  /// Runs `work` (it blocks: it reads the store) on the service's small
  /// pool and sends what it returns. Admitted by enter_waiting() first.
  void on_pool(std::function<Reply()> work) {
    if (!enter_waiting()) return;
    net::post(svc_.pool, [self = shared_from_this(), work = std::move(work)] {
      Reply reply;
      try {
        reply = work();
      } catch (const annals::StoreError& e) {
        reply = error_reply(503, annals::errc::store_unavailable, e.what());
      } catch (const std::exception& e) {
        reply = error_reply(500, annals::errc::internal_error, std::string("internal error: ") + e.what());
      }
      self->leave_waiting();
      self->post_send(std::move(reply));
    });
  }

  void get_query(const std::string& projection, const std::string& query, std::string_view raw_query) {
    const TokenGrant* grant = authenticate();
    if (!grant) return;
    if (svc_.options.auth && !AuthConfig::may_query(*grant, projection, query))
      return send(error_reply(403, annals::errc::forbidden,
                              "principal '" + grant->principal + "' may not query '" + projection + ":" + query + "'"));
    auto parsed = parse_query_string(raw_query);
    if (!parsed) return send(error_reply(400, parsed.error().code, parsed.error().message));
    const auto timeout = std::min(parsed->timeout.value_or(svc_.runtime->options().projections.query_timeout),
                                  svc_.options.max_query_timeout);
    if (!enter_waiting()) return;
    // No thread waits for the answer (a far min_position costs only memory):
    // the runtime calls back when the projection answers or the time is up.
    svc_.runtime->query_async(
      projection, query, std::move(parsed->args), parsed->min_position, timeout,
      [self = shared_from_this(), projection, query](annals::Expected<json::value> r) {
        self->leave_waiting();
        if (!r) {
          Reply reply = error_reply(http_status_for(r.error().code, true), r.error().code, r.error().message);
          if (reply.status == 422) reply.status = 500;  // queries have no domain rejections
          if (reply.status == 503) reply.headers.emplace_back(bhttp::field::retry_after, "1");
          return self->post_send(std::move(reply));
        }
        self->post_send(
          json_reply(200, json::object{{"projection", projection}, {"query", query}, {"result", std::move(*r)}}));
      });
  }

  /// With an auth config, /metrics needs a token that grants "observe"
  /// (401 without a known token, 403 without the grant).
  void get_metrics() {
    if (svc_.options.auth) {
      const TokenGrant* grant = authenticate();
      if (!grant) return;
      if (!grant->observe)
        return send(error_reply(403, annals::errc::forbidden,
                                "principal '" + grant->principal
                                  + "' may not read /metrics: its token needs \"observe\": true in the config"));
    }
    send(Reply{200, svc_.runtime->metrics_text(), kMetricsType, {}});
  }

  /// With an auth config, the details (error texts, paths, positions) need
  /// a token that grants "observe"; without a token, or with one that does
  /// not grant it, the answer is the bare liveness {"status"} with its code
  /// (an unknown token is 401, as anywhere).
  void get_health() {
    bool details = true;
    if (svc_.options.auth) {
      if (!bearer_token(parser_->get())) {
        details = false;
      } else {
        const TokenGrant* grant = authenticate();
        if (!grant) return;
        details = grant->observe;
      }
    }
    annals::Runtime* rt = svc_.runtime.get();
    on_pool([rt, details] {
      json::object body;
      body["status"] = "ok";
      bool healthy = true;
      try {
        const auto head = rt->head_position();
        body["store"] = "reachable";
        body["head"] = head;
      } catch (const std::exception& e) {
        healthy = false;
        body["store"] = "unreachable";
        body["store_error"] = e.what();
      }
      json::array projections;
      for (const auto& name : rt->projection_names()) {
        json::object p{{"name", name}};
        try {
          auto st = rt->projection_status(name);
          if (st) {
            p["running"] = st->running;
            p["checkpoint"] = st->checkpoint;
            p["backlog"] = st->backlog;
            p["restarts"] = st->restarts;
            p["parked"] = st->parked;
            if (st->last_error) p["last_error"] = *st->last_error;
            if (!st->running) healthy = false;
          } else {
            healthy = false;
            p["running"] = false;
            p["error"] = st.error().message;
          }
        } catch (const std::exception& e) {
          healthy = false;
          p["running"] = false;
          p["error"] = e.what();
        }
        projections.push_back(std::move(p));
      }
      body["projections"] = std::move(projections);
      if (!healthy) body["status"] = "degraded";
      if (!details) body = json::object{{"status", body["status"]}};
      return json_reply(healthy ? 200 : 503, body);
    });
  }

  // --- writing -------------------------------------------------------------
  void send(Reply reply, bool close = false) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(static_cast<bhttp::status>(reply.status),
                                                                   req_version_ == 10 ? 10 : 11);
    res->set(bhttp::field::server, "annals");
    res->set(bhttp::field::content_type, reply.content_type);
    for (auto& [field, value] : reply.headers) res->set(field, value);
    res->body() = std::move(reply.body);
    close = close || !req_keep_alive_ || svc_.stopping;
    res->keep_alive(!close);
    res->prepare_payload();
    stream_.expires_after(svc_.options.idle_timeout);
    bhttp::async_write(stream_, *res, [self = shared_from_this(), res, close](beast::error_code ec, std::size_t) {
      self->busy_ = false;
      if (ec) return self->close_now();
      if (close) return self->linger();
      self->read_header();
    });
  }

  /// Half-closes, then reads and discards what the client still sends (its
  /// unread upload, say) until it closes, for a short while.
  void linger() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close_now();
    stream_.expires_after(std::min(svc_.options.idle_timeout, kLingerTime));
    drain();
  }
  void drain() {
    stream_.async_read_some(net::buffer(drain_buf_), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > kLingerBytes || self->svc_.stopping) return self->close_now();
      self->drain();
    });
  }

  void close_now() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  Service::Impl& svc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  unsigned req_version_ = 11;
  bool req_keep_alive_ = false;
  bool busy_ = false;  // a request is being answered (strand only)
  std::array<char, 8192> drain_buf_{};
  std::size_t drained_ = 0;
};


std::shared_ptr<Session> make_session(Service::Impl& service, tcp::socket socket) {
  return std::make_shared<Session>(service, std::move(socket));
}

void start_session(const std::shared_ptr<Session>& session, bool overloaded) { session->start(overloaded); }

void post_stop_if_idle(const std::shared_ptr<Session>& session) {
  net::post(session->executor(), [session] { session->stop_if_idle(); });
}

} // namespace annals::http
