#pragma once
// Structured logs: one record per significant event (runtime start and stop,
// projector crash and restart, event parked, slow recovery, store errors,
// denied commands), with the command's correlation and causation ids where
// there is a command. Written as JSON lines or readable text to stderr, or
// handed to a sink of your own.

#include "annals/json.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace annals {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

const char* to_string(LogLevel l);
/// "debug", "info", "warn", "error", "off" (as to_string gives them); nullopt otherwise.
std::optional<LogLevel> log_level_from_string(std::string_view name);

struct LogRecord {
  std::int64_t at_us = 0;
  LogLevel level = LogLevel::info;
  std::string event;      ///< what happened, dotted: "projection.restarted"
  std::string message;    ///< a sentence for humans
  json::object fields;    ///< details: projection, position, principal, correlation_id, ...
};

using LogSink = std::function<void(const LogRecord&)>;

struct LogOptions {
  LogLevel level = LogLevel::info;
  enum class Format { text, json } format = Format::text;
  /// Receives every record at or above `level`; empty: written to stderr in `format`.
  LogSink sink;
  /// An aggregate recovery slower than this is logged as a warning.
  std::chrono::milliseconds slow_recovery{500};
};

/// Thread-safe; shared by the runtime and its actors.
class Logger {
public:
  explicit Logger(LogOptions options);

  bool enabled(LogLevel level) const { return level >= options_.level && options_.level != LogLevel::off; }
  void log(LogLevel level, std::string event, std::string message, json::object fields = {});
  const LogOptions& options() const { return options_; }

  /// {"at": ISO time, "level", "event", "message", ...fields}
  static std::string format_json(const LogRecord& r);
  /// 2026-11-24T10:00:00.123456Z WARN  projection.restarted  message  key=value ...
  static std::string format_text(const LogRecord& r);

private:
  LogOptions options_;
  std::mutex mtx_;
};

using LoggerPtr = std::shared_ptr<Logger>;

} // namespace annals
