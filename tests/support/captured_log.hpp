#pragma once
// A log sink for tests: keeps the runtime's records to look at afterwards.

#include <annals/log.hpp>

#include <mutex>
#include <string>
#include <vector>

namespace annals::test {

struct CapturedLog {
  std::mutex mtx;
  std::vector<LogRecord> records;

  LogSink sink() {
    return [this](const LogRecord& r) {
      std::lock_guard<std::mutex> lock(mtx);
      records.push_back(r);
    };
  }
  /// The records of one event ("projection.crashed"), in order.
  std::vector<LogRecord> of(const std::string& event) {
    std::lock_guard<std::mutex> lock(mtx);
    std::vector<LogRecord> out;
    for (const auto& r : records)
      if (r.event == event) out.push_back(r);
    return out;
  }
};

} // namespace annals::test
