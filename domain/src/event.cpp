#include "annals/event.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace annals {

std::int64_t now_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

std::string format_timestamp(std::int64_t us) {
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  long micros = static_cast<long>(us % 1000000);
  if (micros < 0) { micros += 1000000; --secs; }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
  return buf;
}

json::object EventMetadata::to_json() const {
  json::object o;
  o["timestamp"] = format_timestamp(timestamp_us);
  o["correlation_id"] = correlation_id;
  o["causation_id"] = causation_id;
  if (!principal.empty()) o["principal"] = principal;
  return o;
}

EventMetadata EventMetadata::from_json(const json::value& v) {
  EventMetadata m;
  if (const auto* o = v.if_object()) {
    if (const auto* s = o->if_contains("correlation_id"); s && s->is_string())
      m.correlation_id = std::string(s->get_string());
    if (const auto* s = o->if_contains("causation_id"); s && s->is_string())
      m.causation_id = std::string(s->get_string());
    if (const auto* s = o->if_contains("principal"); s && s->is_string())
      m.principal = std::string(s->get_string());
  }
  return m;
}

json::object Event::to_json() const {
  json::object o;
  o["position"] = position;
  o["aggregate"] = stream.aggregate;
  o["id"] = stream.id;
  o["version"] = version;
  o["type"] = type;
  o["schema_version"] = schema_version;
  o["data"] = data;
  o["metadata"] = metadata.to_json();
  return o;
}

} // namespace annals
