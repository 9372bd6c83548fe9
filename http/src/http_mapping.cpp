#include "annals/http/http_mapping.hpp"

#include <boost/beast/http/status.hpp>

#include <cctype>
#include <charconv>
#include <set>

namespace annals::http {

unsigned http_status_for(std::string_view code, bool rejected) {
  namespace errc = annals::errc;
  if (code.empty()) return 200;
  if (code == errc::invalid_command || code == errc::invalid_query) return 400;
  if (code == errc::forbidden) return 403;
  if (code == errc::unknown_aggregate || code == errc::unknown_command) return 422;
  if (code == errc::unknown_projection || code == errc::unknown_query || code == errc::not_found) return 404;
  if (code == errc::concurrency_conflict || code == errc::idempotency_conflict) return 409;
  if (code == errc::payload_too_large) return 413;
  if (code == errc::internal_error) return 500;
  // outcome_unknown: the store failed at COMMIT; like a timeout, retry with the same key.
  if (code == errc::store_unavailable || code == errc::outcome_unknown || code == errc::shutting_down
      || code == errc::overloaded || code == errc::not_owner || code == errc::node_unavailable)
    return 503;
  if (code == errc::timeout) return 504;
  return rejected ? 422 : 500;
}

unsigned http_status_for(const annals::CommandResult& r) {
  if (r.accepted()) return 200;
  return http_status_for(r.error ? std::string_view{r.error->code} : std::string_view{"internal_error"}, r.rejected());
}

std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      const int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr std::uint32_t min_for[] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_for[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

namespace {

std::optional<std::int64_t> parse_int(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::string_view digits = s[0] == '-' ? s.substr(1) : s;
  if (digits.empty() || digits.size() > 19) return std::nullopt;
  for (char c : digits)
    if (c < '0' || c > '9') return std::nullopt;
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

annals::Error bad(std::string message) { return annals::Error{annals::errc::invalid_query, std::move(message)}; }

} // namespace

annals::Expected<QueryRequestArgs> parse_query_string(std::string_view query) {
  QueryRequestArgs out;
  std::set<std::string> seen;
  std::size_t start = 0;
  while (start <= query.size()) {
    std::size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view pair = query.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) {
      if (end == query.size()) break;
      continue;  // "a=1&&b=2": tolerated
    }
    const auto eq = pair.find('=');
    auto name = percent_decode(pair.substr(0, eq), true);
    auto raw = percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
    if (!name || !raw) return bad("malformed %-escape in the query string");
    if (!valid_utf8(*name) || !valid_utf8(*raw)) return bad("the query string is not UTF-8");
    if (name->empty()) return bad("a query parameter without a name");
    if (!seen.insert(*name).second) return bad("query parameter '" + *name + "' is given more than once");
    if (*name == "min_position" || *name == "timeout_ms") {
      auto v = parse_int(*raw);
      if (!v || *v < 0) return bad(*name + " must be a non-negative integer, got '" + *raw + "'");
      if (*name == "min_position") out.min_position = *v;
      else out.timeout = std::chrono::milliseconds(*v);
      continue;
    }
    const std::string& value = *raw;
    if (auto i = parse_int(value)) out.args[*name] = *i;
    else if (value == "true") out.args[*name] = true;
    else if (value == "false") out.args[*name] = false;
    else if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      out.args[*name] = value.substr(1, value.size() - 2);
    else out.args[*name] = value;
  }
  return out;
}

annals::json::object problem_body(unsigned status, std::string_view code, std::string detail) {
  const auto phrase = boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status));
  return annals::json::object{{"type", "urn:annals:error:" + std::string(code)},
                              {"title", std::string(phrase.data(), phrase.size())},
                              {"status", status},
                              {"detail", std::move(detail)},
                              {"code", code}};
}

std::string media_type(std::string_view content_type) {
  std::string out;
  for (char c : content_type.substr(0, content_type.find(';')))
    if (c != ' ' && c != '\t') out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return out;
}

bool is_json_media_type(std::string_view media) {
  return media == "application/json" || (media.size() > 5 && media.substr(media.size() - 5) == "+json");
}

std::optional<std::int64_t> parse_if_match(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.substr(0, 2) == "W/") value.remove_prefix(2);
  if (value.size() < 3 || value.front() != '"' || value.back() != '"') return std::nullopt;
  auto v = parse_int(value.substr(1, value.size() - 2));
  if (!v || *v < 0) return std::nullopt;
  return v;
}

} // namespace annals::http
