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
constexpr std::string_view kProblem = "application/problem+json";
/// Events read from the log at once for GET /events/subscribe (one batch is
/// all a subscription holds: the next is read when the client took this one).
constexpr std::size_t kSubscriptionBatch = 256;
/// The largest page of GET /streams/... and GET /events.
constexpr std::int64_t kMaxPage = 1000;
constexpr std::int64_t kDefaultPage = 100;
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
  return Reply{status, json::serialize(problem_body(status, code, std::move(message))), kProblem, {}};
}

/// A path segment with everything but unreserved characters %-escaped.
std::string path_escape(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') out.push_back(c);
    else {
      out.push_back('%');
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 15]);
    }
  }
  return out;
}

/// The answer to a command: the result with its stream version as ETag
/// (201 + Location when it created the stream), or a problem carrying the
/// result's fields ("outcome": "rejected"/"failed"). `conditional`: the
/// request had If-Match, so a version mismatch is 412.
Reply command_reply(const annals::CommandResult& r, bool conditional) {
  unsigned status = http_status_for(r);
  auto full = r.to_json();
  if (r.accepted()) {
    Reply reply = json_reply(status, full);
    reply.headers.emplace_back(bhttp::field::etag, "\"" + std::to_string(r.version) + "\"");
    if (!r.events.empty() && r.events.front().version == 1) {
      reply.status = 201;
      reply.headers.emplace_back(bhttp::field::location,
                                 "/streams/" + path_escape(r.aggregate) + "/" + path_escape(r.id));
    }
    return reply;
  }
  const std::string code = r.error ? r.error->code : std::string(annals::errc::internal_error);
  if (conditional && code == annals::errc::concurrency_conflict) status = 412;
  auto body = problem_body(status, code, r.error ? r.error->message : std::string("the command failed"));
  body["outcome"] = full["status"];
  for (const char* key : {"aggregate", "id", "version", "position", "events", "replayed"}) body[key] = full[key];
  Reply reply{status, json::serialize(body), kProblem, {}};
  if (status == 503) reply.headers.emplace_back(bhttp::field::retry_after, "1");
  return reply;
}

/// A request header's value, or nullopt.
std::optional<std::string> header_value(const bhttp::request<bhttp::string_body>& req, std::string_view name) {
  auto it = req.find(boost::beast::string_view(name.data(), name.size()));
  if (it == req.end()) return std::nullopt;
  return std::string(it->value().data(), it->value().size());
}

/// A non-negative integer parameter of a query string (taken out of `args`);
/// `fallback` when absent; nullopt (and `problem` set) when it is not one.
std::optional<std::int64_t> take_count(json::object& args, const char* name, std::int64_t fallback,
                                       std::int64_t min, std::int64_t max, std::string& problem) {
  auto* v = args.if_contains(name);
  if (!v) return fallback;
  if (!v->is_int64() || v->as_int64() < min || v->as_int64() > max) {
    problem = std::string(name) + " must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
    return std::nullopt;
  }
  const auto n = v->as_int64();
  args.erase(name);
  return n;
}

/// "" when `args` is empty, else the problem naming the unknown parameter.
std::string unknown_parameters(const json::object& args, const std::string& allowed) {
  if (args.empty()) return {};
  return "unknown query parameter '" + printable(args.begin()->key()) + "' (known: " + allowed + ")";
}

/// One SSE event: "id: <position>", "event: <type>", "data: <event JSON>".
void append_sse_event(std::string& out, const annals::Event& e) {
  out += "id: " + std::to_string(e.position) + "\nevent: ";
  for (char c : e.type) out.push_back(c == '\n' || c == '\r' ? '?' : c);  // a line break would end the field
  out += "\ndata: " + json::serialize(e.to_json()) + "\n\n";
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
    if (!busy_ || streaming_) close_now();
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
    head_ = false;
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
    head_ = req.method() == bhttp::verb::head;
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
      return send(error_reply(431, "header_too_large",
                              "the request head is larger than " + std::to_string(svc_.options.header_limit)
                                + " bytes"),
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
    // HEAD is GET without the body (send() drops it, keeping the headers).
    auto only = [&](bhttp::verb allowed) {
      if (method == allowed || (allowed == bhttp::verb::get && method == bhttp::verb::head)) return true;
      const std::string allow = allowed == bhttp::verb::get ? "GET, HEAD" : std::string(bhttp::to_string(allowed));
      Reply r = error_reply(405, "method_not_allowed", "use " + allow + " for " + printable(raw_path));
      r.headers.emplace_back(bhttp::field::allow, allow);
      send(std::move(r));
      return false;
    };

    if (segments.size() == 1 && (segments[0].empty() || segments[0] == "api")) {
      if (only(bhttp::verb::get)) get_discovery();
    } else if (segments.size() == 1 && segments[0] == "commands") {
      if (only(bhttp::verb::post)) post_command();
    } else if (segments.size() == 2 && segments[0] == "queries" && !segments[1].empty()) {
      if (only(bhttp::verb::get)) get_projection_queries(segments[1]);
    } else if (segments.size() == 3 && segments[0] == "queries" && !segments[1].empty() && !segments[2].empty()) {
      if (only(bhttp::verb::get)) get_query(segments[1], segments[2], raw_query);
    } else if (segments.size() == 3 && segments[0] == "streams" && !segments[1].empty() && !segments[2].empty()) {
      if (only(bhttp::verb::get)) get_stream(segments[1], segments[2], raw_query);
    } else if (segments.size() == 1 && segments[0] == "events") {
      if (only(bhttp::verb::get)) get_events(raw_query);
    } else if (segments.size() == 2 && segments[0] == "events" && segments[1] == "subscribe") {
      if (only(bhttp::verb::get)) subscribe(raw_query);
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
    const auto& req = parser_->get();
    if (auto type = header_value(req, "Content-Type"); type && !is_json_media_type(media_type(*type))) {
      Reply r = error_reply(415, "unsupported_media_type",
                            "a command is JSON: send it with 'Content-Type: application/json' (got '"
                              + printable(*type) + "')");
      r.headers.emplace_back(bhttp::field::accept, std::string(kJson));
      return send(std::move(r));
    }
    const auto key_header = header_value(req, "Idempotency-Key");
    const auto if_match = header_value(req, "If-Match");
    std::optional<std::int64_t> expected;
    if (if_match) {
      expected = parse_if_match(*if_match);
      if (!expected)
        return send(error_reply(400, annals::errc::invalid_command,
                                "If-Match must be one stream version in quotes, as a result's ETag gives it "
                                "(If-Match: \"3\"); got '" + printable(*if_match) + "'"));
    }
    const auto& limits = svc_.runtime->options().limits;
    auto cmd = annals::parse_command(req.body(), limits);
    if (!cmd) {
      // The runtime rejects it again at once (no actor is involved) and
      // counts it under aggregate="(invalid)", command="(invalid)" (docs/metrics.md).
      auto r = svc_.runtime->execute_json(req.body());
      return send(command_reply(r, false));
    }
    if (key_header) {
      if (cmd->idempotency_key && *cmd->idempotency_key != *key_header)
        return send(error_reply(400, annals::errc::invalid_command,
                                "the Idempotency-Key header ('" + printable(*key_header)
                                  + "') and the body's idempotency_key ('" + printable(*cmd->idempotency_key)
                                  + "') differ; send the key once, in either"));
      cmd->idempotency_key = *key_header;
    }
    if (expected) {
      if (cmd->expected_version && *cmd->expected_version != *expected)
        return send(error_reply(400, annals::errc::invalid_command,
                                "If-Match (" + std::to_string(*expected) + ") and the body's expected_version ("
                                  + std::to_string(*cmd->expected_version) + ") differ; send one of them"));
      cmd->expected_version = *expected;
    }
    if (key_header || expected)
      if (auto e = annals::validate_envelope(*cmd, limits)) return send(error_reply(400, e->code, e->message));
    if (svc_.options.auth) cmd->metadata.principal = grant->principal;
    if (!enter_waiting()) return;
    const bool conditional = expected.has_value();
    svc_.runtime->execute_async(std::move(*cmd), [self = shared_from_this(), conditional](annals::CommandResult r) {
      // On a runtime thread (or this one, for early rejections): hand over to the strand.
      self->leave_waiting();
      self->post_send(command_reply(r, conditional));
    });
  }

  /// GET / (and /api): the domains, aggregates with their commands,
  /// projections with their queries, and the routes.
  void get_discovery() {
    if (!authenticate()) return;
    json::object body;
    json::array domains;
    for (const auto& d : svc_.options.domains) {
      json::array aggregates, projections;
      for (const auto& a : d.aggregates) aggregates.push_back(json::value(a));
      for (const auto& p : d.projections) projections.push_back(json::value(p));
      domains.push_back(json::object{{"name", d.name}, {"description", d.description},
                                     {"aggregates", std::move(aggregates)}, {"projections", std::move(projections)}});
    }
    body["domains"] = std::move(domains);
    body["aggregates"] = svc_.discovery.at("aggregates");
    body["projections"] = svc_.discovery.at("projections");
    body["routes"] = json::array{"GET /", "POST /commands", "GET /queries/{projection}",
                                 "GET /queries/{projection}/{query}?args", "GET /streams/{aggregate}/{id}?from_version=&limit=",
                                 "GET /events?from=&limit=", "GET /events/subscribe?from=", "GET /health", "GET /metrics"};
    send(json_reply(200, body));
  }

  /// GET /queries/{projection}: that projection's queries with their arguments and answers.
  void get_projection_queries(const std::string& projection) {
    if (!authenticate()) return;
    for (const auto& p : svc_.discovery.at("projections").as_array())
      if (p.at("name").as_string() == projection)
        return send(json_reply(200, json::object{{"projection", projection}, {"queries", p.at("queries")}}));
    send(error_reply(404, annals::errc::unknown_projection, "no projection '" + printable(projection) + "'"));
  }

  bool aggregate_known(const std::string& aggregate) const {
    for (const auto& a : svc_.discovery.at("aggregates").as_array())
      if (a.at("name").as_string() == aggregate) return true;
    return false;
  }

  /// Event reads need a query grant: "$streams:<aggregate>" for a stream,
  /// "$events:all" for the whole log (a grant of "*" covers both). False: 403 sent.
  bool may_read(const TokenGrant& grant, const std::string& what, const std::string& which) {
    if (!svc_.options.auth || AuthConfig::may_query(grant, what, which)) return true;
    send(error_reply(403, annals::errc::forbidden,
                     "principal '" + grant.principal + "' may not read events: its token needs the query pattern '"
                       + what + ":" + printable(which) + "' (or '" + what + ":*')"));
    return false;
  }

  /// GET /streams/{aggregate}/{id}?from_version=1&limit=100: one page of a
  /// stream, oldest first; "next" (also a Link rel="next" header) names the
  /// next page, null on the last one, which carries the stream version as ETag.
  void get_stream(const std::string& aggregate, const std::string& id, std::string_view raw_query) {
    const TokenGrant* grant = authenticate();
    if (!grant || !may_read(*grant, "$streams", aggregate)) return;
    if (!aggregate_known(aggregate))
      return send(error_reply(404, annals::errc::unknown_aggregate, "no aggregate type '" + printable(aggregate) + "'"));
    auto parsed = parse_query_string(raw_query);
    if (!parsed) return send(error_reply(400, parsed.error().code, parsed.error().message));
    std::string problem;
    const auto from = take_count(parsed->args, "from_version", 1, 1, INT64_MAX, problem);
    const auto limit = from ? take_count(parsed->args, "limit", kDefaultPage, 1, kMaxPage, problem) : std::nullopt;
    if (!from || !limit) return send(error_reply(400, annals::errc::invalid_query, problem));
    if (auto u = unknown_parameters(parsed->args, "from_version, limit"); !u.empty())
      return send(error_reply(400, annals::errc::invalid_query, u));
    annals::Runtime* rt = svc_.runtime.get();
    on_pool([rt, aggregate, id, from = *from, limit = *limit] {
      auto events = rt->read_stream(annals::StreamId{aggregate, id}, from, static_cast<std::size_t>(limit) + 1);
      const bool more = events.size() > static_cast<std::size_t>(limit);
      if (more) events.pop_back();
      if (events.empty() && from == 1)
        return error_reply(404, annals::errc::not_found,
                           "stream " + printable(aggregate) + "/" + printable(id) + " has no events");
      json::array list;
      for (const auto& e : events) list.push_back(e.to_json());
      const std::int64_t next_version = events.empty() ? from : events.back().version + 1;
      json::value next = nullptr;
      std::string link;
      if (more) {
        link = "/streams/" + path_escape(aggregate) + "/" + path_escape(id) + "?from_version="
               + std::to_string(next_version) + "&limit=" + std::to_string(limit);
        next = json::value(link);
      }
      Reply r = json_reply(200, json::object{{"aggregate", aggregate}, {"id", id}, {"from_version", from},
                                             {"events", std::move(list)}, {"next_version", next_version},
                                             {"next", next}});
      if (more) r.headers.emplace_back(bhttp::field::link, "<" + link + ">; rel=\"next\"");
      else if (!events.empty()) r.headers.emplace_back(bhttp::field::etag, "\"" + std::to_string(events.back().version) + "\"");
      return r;
    });
  }

  /// GET /events?from=1&limit=100: one page of the whole log by global position.
  void get_events(std::string_view raw_query) {
    const TokenGrant* grant = authenticate();
    if (!grant || !may_read(*grant, "$events", "all")) return;
    auto parsed = parse_query_string(raw_query);
    if (!parsed) return send(error_reply(400, parsed.error().code, parsed.error().message));
    std::string problem;
    const auto from = take_count(parsed->args, "from", 1, 1, INT64_MAX, problem);
    const auto limit = from ? take_count(parsed->args, "limit", kDefaultPage, 1, kMaxPage, problem) : std::nullopt;
    if (!from || !limit) return send(error_reply(400, annals::errc::invalid_query, problem));
    if (auto u = unknown_parameters(parsed->args, "from, limit"); !u.empty())
      return send(error_reply(400, annals::errc::invalid_query, u));
    annals::Runtime* rt = svc_.runtime.get();
    on_pool([rt, from = *from, limit = *limit] {
      auto events = rt->read_all(from, static_cast<std::size_t>(limit) + 1);
      const bool more = events.size() > static_cast<std::size_t>(limit);
      if (more) events.pop_back();
      json::array list;
      for (const auto& e : events) list.push_back(e.to_json());
      const std::int64_t next_position = events.empty() ? from : events.back().position + 1;
      json::value next = nullptr;
      std::string link;
      if (more) {
        link = "/events?from=" + std::to_string(next_position) + "&limit=" + std::to_string(limit);
        next = json::value(link);
      }
      Reply r = json_reply(200, json::object{{"from", from}, {"events", std::move(list)},
                                             {"next_position", next_position}, {"next", next}});
      if (more) r.headers.emplace_back(bhttp::field::link, "<" + link + ">; rel=\"next\"");
      return r;
    });
  }

  /// GET /events/subscribe?from=POS (or Last-Event-ID: N, resuming after N):
  /// Server-Sent Events, the log from POS on, then live. The connection is
  /// the subscription's: it counts against max_connections, and holds one
  /// batch at most (the next is read once the client took it; a client that
  /// takes nothing for idle_timeout is dropped).
  void subscribe(std::string_view raw_query) {
    const TokenGrant* grant = authenticate();
    if (!grant || !may_read(*grant, "$events", "all")) return;
    auto parsed = parse_query_string(raw_query);
    if (!parsed) return send(error_reply(400, parsed.error().code, parsed.error().message));
    std::string problem;
    auto from = take_count(parsed->args, "from", 1, 1, INT64_MAX, problem);
    if (!from) return send(error_reply(400, annals::errc::invalid_query, problem));
    if (auto u = unknown_parameters(parsed->args, "from"); !u.empty())
      return send(error_reply(400, annals::errc::invalid_query, u));
    if (auto last = header_value(parser_->get(), "Last-Event-ID")) {
      const bool digits = !last->empty() && last->size() <= 18
                          && last->find_first_not_of("0123456789") == std::string::npos;
      if (!digits)
        return send(error_reply(400, annals::errc::invalid_query,
                                "Last-Event-ID must be the id of an event received (a global position), got '"
                                  + printable(*last) + "'"));
      from = std::stoll(*last) + 1;
    }
    subscription_next_ = *from;
    streaming_ = true;
    auto head = std::make_shared<std::string>(
      "HTTP/1.1 200 OK\r\nServer: annals\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
      "X-Accel-Buffering: no\r\nConnection: close\r\n\r\n");
    if (req_version_ == 10) head->replace(5, 3, "1.0");
    const bool head_only = head_;
    if (!head_only) *head += "retry: 1000\n\n";
    stream_.expires_after(svc_.options.idle_timeout);
    net::async_write(stream_, net::buffer(*head), [self = shared_from_this(), head, head_only](beast::error_code ec, std::size_t) {
      if (ec || head_only) return self->close_now();
      self->last_write_ = std::chrono::steady_clock::now();
      self->subscription_read();
    });
  }

  void subscription_read() {
    if (svc_.stopping || closed_) return close_now();
    annals::Runtime* rt = svc_.runtime.get();
    net::post(svc_.pool, [self = shared_from_this(), rt, from = subscription_next_] {
      std::vector<annals::Event> events;
      std::string error;
      try {
        events = rt->read_all(from, kSubscriptionBatch);
      } catch (const std::exception& e) {
        error = e.what();
      }
      net::post(self->executor(), [self, events = std::move(events), error = std::move(error)]() mutable {
        self->subscription_got(std::move(events), error);
      });
    });
  }

  void subscription_got(std::vector<annals::Event> events, const std::string& error) {
    if (svc_.stopping || closed_) return close_now();
    auto text = std::make_shared<std::string>();
    bool end = false;
    if (!error.empty()) {
      // Said once, as an event the client can tell apart, then the stream ends (it reconnects with Last-Event-ID).
      *text = "event: error\ndata: "
              + json::serialize(problem_body(503, annals::errc::store_unavailable, "reading the log failed: " + error))
              + "\n\n";
      end = true;
    } else if (!events.empty()) {
      for (const auto& e : events) append_sse_event(*text, e);
      subscription_next_ = events.back().position + 1;
    } else if (std::chrono::steady_clock::now() - last_write_ >= svc_.options.subscription_heartbeat) {
      *text = ": heartbeat\n\n";
    }
    if (text->empty()) return subscription_wait();
    const bool full = events.size() == kSubscriptionBatch;
    stream_.expires_after(svc_.options.idle_timeout);
    net::async_write(stream_, net::buffer(*text), [self = shared_from_this(), text, end, full](beast::error_code ec, std::size_t) {
      if (ec || end) return self->close_now();
      self->last_write_ = std::chrono::steady_clock::now();
      if (full) return self->subscription_read();  // catching up: no pause
      self->subscription_wait();
    });
  }

  void subscription_wait() {
    timer_.expires_after(svc_.options.subscription_poll_interval);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->close_now();
      self->subscription_read();
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
      if (!grant->observe && !grant->operate)
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
        details = grant->observe || grant->operate;
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
    if (head_) res->body().clear();  // HEAD: GET's headers (Content-Length too), no body
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
    closed_ = true;
    timer_.cancel();
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
  bool head_ = false;  // the request is HEAD: the answer has no body
  bool streaming_ = false;  // the connection is an event subscription
  bool closed_ = false;
  std::int64_t subscription_next_ = 1;  // the position the subscription reads next
  std::chrono::steady_clock::time_point last_write_{};
  net::steady_timer timer_{stream_.get_executor()};
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
