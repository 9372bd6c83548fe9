#include "annals/log.hpp"

#include "annals/event.hpp"

#include <cctype>
#include <cstdio>

namespace annals {

const char* to_string(LogLevel l) {
  switch (l) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
    case LogLevel::off: return "off";
  }
  return "info";
}

std::optional<LogLevel> log_level_from_string(std::string_view name) {
  for (auto l : {LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error, LogLevel::off})
    if (name == to_string(l)) return l;
  return std::nullopt;
}

Logger::Logger(LogOptions options) : options_(std::move(options)) {}

void Logger::log(LogLevel level, std::string event, std::string message, json::object fields) {
  if (!enabled(level)) return;
  LogRecord r{now_us(), level, std::move(event), std::move(message), std::move(fields)};
  std::lock_guard<std::mutex> lock(mtx_);
  if (options_.sink) {
    try {
      options_.sink(r);
    } catch (...) {
      // A failing sink must not take the runtime down.
    }
    return;
  }
  const std::string line =
    options_.format == LogOptions::Format::json ? format_json(r) : format_text(r);
  std::fprintf(stderr, "%s\n", line.c_str());
}

std::string Logger::format_json(const LogRecord& r) {
  json::object o;
  o["at"] = format_timestamp(r.at_us);
  o["level"] = to_string(r.level);
  o["event"] = r.event;
  o["message"] = r.message;
  for (const auto& kv : r.fields) o[kv.key()] = kv.value();
  return json::serialize(o);
}

std::string Logger::format_text(const LogRecord& r) {
  std::string level = to_string(r.level);
  for (auto& ch : level) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  std::string out = format_timestamp(r.at_us) + " " + level + (level.size() < 5 ? std::string(5 - level.size(), ' ') : "")
                    + " " + r.event + "  " + r.message;
  for (const auto& kv : r.fields) {
    out += "  ";
    out += kv.key();
    out += "=";
    out += kv.value().is_string() ? std::string(kv.value().get_string()) : json::serialize(kv.value());
  }
  return out;
}

} // namespace annals
