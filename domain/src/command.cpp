#include "annals/command.hpp"
#include "annals/json_parse.hpp"

#include <cstdio>
#include <random>

namespace annals {

namespace {

Error invalid(std::string msg) { return Error{errc::invalid_command, std::move(msg)}; }

// Reads an optional string field; wrong type is an error naming the field.
std::optional<Error> read_string(const json::object& o, const char* name, std::string& out,
                                 bool required, const char* where = "") {
  const json::value* v = o.if_contains(name);
  if (!v || (v->is_null() && !required)) {
    if (required) return invalid(std::string("missing field '") + where + name + "'");
    return std::nullopt;
  }
  if (!v->is_string())
    return invalid(std::string("field '") + where + name + "': expected string, got " + json_kind(*v));
  out = std::string(v->get_string());
  return std::nullopt;
}

bool has_control_chars(std::string_view s) {
  for (unsigned char ch : s)
    if (ch < 0x20 || ch == 0x7f) return true;
  return false;
}

} // namespace

std::string make_uuid() {
  thread_local std::mt19937_64 gen{std::random_device{}() ^
                                   (static_cast<std::uint64_t>(std::random_device{}()) << 32)};
  std::uint64_t a = gen(), b = gen();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 1
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(a >> 32), static_cast<unsigned>((a >> 16) & 0xffff),
                static_cast<unsigned>(a & 0xffff), static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

json::object Command::to_json() const {
  json::object o;
  o["aggregate"] = aggregate;
  o["id"] = id;
  o["command"] = command;
  o["data"] = data;
  if (idempotency_key) o["idempotency_key"] = *idempotency_key;
  if (expected_version) o["expected_version"] = *expected_version;
  json::object md;
  if (!metadata.correlation_id.empty()) md["correlation_id"] = metadata.correlation_id;
  if (!metadata.principal.empty()) md["principal"] = metadata.principal;
  if (!md.empty()) o["metadata"] = std::move(md);
  if (!command_id.empty()) o["command_id"] = command_id;
  return o;
}

std::string Command::fingerprint() const {
  json::object o;
  o["aggregate"] = aggregate;
  o["id"] = id;
  o["command"] = command;
  o["data"] = data;
  if (expected_version) o["expected_version"] = *expected_version;
  return canonical_json(o);
}

std::optional<Error> validate_envelope(const Command& c, const CommandLimits& limits) {
  auto check_name = [&](const std::string& v, const char* field,
                        std::size_t max) -> std::optional<Error> {
    if (v.empty()) return invalid(std::string("field '") + field + "' must not be empty");
    if (v.size() > max)
      return invalid(std::string("field '") + field + "' is " + std::to_string(v.size())
                     + " bytes long; the limit is " + std::to_string(max));
    if (has_control_chars(v))
      return invalid(std::string("field '") + field + "' contains control characters");
    return std::nullopt;
  };
  if (auto e = check_name(c.aggregate, "aggregate", limits.max_id_length)) return e;
  if (auto e = check_name(c.id, "id", limits.max_id_length)) return e;
  if (auto e = check_name(c.command, "command", limits.max_id_length)) return e;
  if (c.idempotency_key)
    if (auto e = check_name(*c.idempotency_key, "idempotency_key", limits.max_key_length)) return e;
  if (c.expected_version && *c.expected_version < 0)
    return invalid("field 'expected_version' must be >= 0, got " + std::to_string(*c.expected_version));
  if (c.metadata.correlation_id.size() > limits.max_key_length)
    return invalid("field 'metadata.correlation_id' is longer than " + std::to_string(limits.max_key_length) + " bytes");
  if (c.metadata.principal.size() > limits.max_key_length)
    return invalid("field 'metadata.principal' is longer than " + std::to_string(limits.max_key_length) + " bytes");
  if (c.command_id.size() > limits.max_key_length)
    return invalid("field 'command_id' is longer than " + std::to_string(limits.max_key_length) + " bytes");
  if (!c.data.empty()) {
    if (!is_finite_json(c.data)) return invalid("field 'data' contains a number that is NaN or infinite");
    std::size_t n = json::serialize(c.data).size();
    if (n > limits.max_data_bytes)
      return Error{errc::payload_too_large, "command data is " + std::to_string(n)
                                              + " bytes; the limit is " + std::to_string(limits.max_data_bytes)};
  }
  return std::nullopt;
}

Expected<Command> command_from_json(const json::value& v, const CommandLimits& limits) {
  const json::object* o = v.if_object();
  if (!o) return invalid(std::string("a command must be a JSON object, got ") + json_kind(v));
  static const char* const known[] = {"aggregate", "id", "command", "data", "idempotency_key",
                                      "expected_version", "metadata", "command_id"};
  for (const auto& kv : *o) {
    bool ok = false;
    for (const char* k : known) ok = ok || kv.key() == k;
    if (!ok) return invalid("unknown field '" + std::string(kv.key()) + "'");
  }
  Command c;
  if (auto e = read_string(*o, "aggregate", c.aggregate, true)) return *e;
  if (auto e = read_string(*o, "id", c.id, true)) return *e;
  if (auto e = read_string(*o, "command", c.command, true)) return *e;
  if (const json::value* d = o->if_contains("data"); d && !d->is_null()) {
    if (!d->is_object()) return invalid(std::string("field 'data': expected object, got ") + json_kind(*d));
    c.data = d->get_object();
  }
  std::string key;
  if (o->contains("idempotency_key") && !o->at("idempotency_key").is_null()) {
    if (auto e = read_string(*o, "idempotency_key", key, true)) return *e;
    c.idempotency_key = key;
  }
  if (const json::value* ev = o->if_contains("expected_version"); ev && !ev->is_null()) {
    if (ev->is_int64()) c.expected_version = ev->get_int64();
    else if (ev->is_uint64()) return invalid("field 'expected_version' is too large");
    else return invalid(std::string("field 'expected_version': expected integer, got ") + json_kind(*ev));
  }
  if (const json::value* md = o->if_contains("metadata"); md && !md->is_null()) {
    const json::object* mo = md->if_object();
    if (!mo) return invalid(std::string("field 'metadata': expected object, got ") + json_kind(*md));
    for (const auto& kv : *mo)
      if (kv.key() != "correlation_id" && kv.key() != "principal")
        return invalid("unknown field 'metadata." + std::string(kv.key()) + "'");
    if (auto e = read_string(*mo, "correlation_id", c.metadata.correlation_id, false, "metadata.")) return *e;
    if (auto e = read_string(*mo, "principal", c.metadata.principal, false, "metadata.")) return *e;
  }
  if (auto e = read_string(*o, "command_id", c.command_id, false)) return *e;
  if (auto e = validate_envelope(c, limits)) return *e;
  return c;
}

Expected<Command> parse_command(std::string_view text, const CommandLimits& limits) {
  if (text.size() > limits.max_envelope_bytes)
    return Error{errc::payload_too_large, "command is " + std::to_string(text.size())
                                            + " bytes; the limit is " + std::to_string(limits.max_envelope_bytes)};
  json::error_code ec;
  json::parse_options opts;
  opts.max_depth = 64;
  std::size_t n = 0;
  // Exact numbers: the command's data is stored as text and read back.
  json::value v = parse_json(text, ec, opts, &n);
  if (ec == json::error::exponent_overflow)
    return invalid("the number before byte " + std::to_string(n)
                   + " is too large for a double (the largest is about 1.8e308)");
  if (ec)
    return invalid("malformed JSON at byte " + std::to_string(n) + ": " + ec.message());
  return command_from_json(v, limits);
}

} // namespace annals
