#include "annals/scenarios/step_log.hpp"

#include <boost/json/serialize.hpp>

#include <cstdio>

namespace annals::scenarios {

namespace {
constexpr const char* green = "\033[32m";
constexpr const char* red = "\033[31m";
constexpr const char* yellow = "\033[33m";
constexpr const char* dim = "\033[2m";
constexpr const char* bold = "\033[1m";
constexpr const char* off = "\033[0m";

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
} // namespace

TextStepLog::TextStepLog(std::ostream& out, TextLogOptions options) : out_(out), options_(options) {}

void TextStepLog::clear_progress() {
  if (!progress_shown_) return;
  out_ << "\r\033[K";
  progress_shown_ = false;
}

void TextStepLog::started(const Scenario& s, const std::string& store) {
  std::lock_guard<std::mutex> lock(mtx_);
  t0_ = std::chrono::steady_clock::now();
  steps_ = s.steps.size();
  out_ << c(bold) << "annals run " << s.name << c(off) << c(dim) << "  (" << s.file << ")" << c(off) << "\n";
  if (!s.description.empty()) out_ << "  " << s.description << "\n";
  std::string domains;
  for (const auto& d : s.domains) domains += (domains.empty() ? "" : ", ") + d;
  out_ << c(dim) << "  store " << store << ", domains: " << domains << ", " << counted(s.steps.size(), "step") << c(off)
       << "\n\n";
  out_.flush();
}

void TextStepLog::step_started(const Step& step) {
  std::lock_guard<std::mutex> lock(mtx_);
  if (!step.note.empty()) out_ << c(dim) << "      # " << step.note << c(off) << "\n";
  out_.flush();
}

void TextStepLog::progress(const Step& step, std::int64_t done, std::int64_t total, double per_second) {
  if (!options_.progress) return;
  std::lock_guard<std::mutex> lock(mtx_);
  char line[160];
  std::snprintf(line, sizeof line, "\r\033[K%4zu %-12s %lld/%lld commands (%lld%%), %.0f cmd/s", step.number,
                step.kind.c_str(), static_cast<long long>(done), static_cast<long long>(total),
                static_cast<long long>(total ? done * 100 / total : 100), per_second);
  out_ << c(dim) << line << c(off);
  out_.flush();
  progress_shown_ = true;
}

void TextStepLog::step_finished(const Step& step, const StepOutcome& o) {
  std::lock_guard<std::mutex> lock(mtx_);
  clear_progress();
  char head[64];
  std::snprintf(head, sizeof head, "%4zu %-12s", step.number, step.kind.c_str());
  out_ << c(o.ok ? green : red) << head << c(off) << " " << o.summary << c(dim) << "  " << human_seconds(o.seconds)
       << c(off) << "\n";
  if (!o.ok) out_ << c(red) << "     FAILED: " << o.failure << c(off) << "\n";
  out_.flush();
}

void TextStepLog::runtime_log(const LogRecord& r) {
  std::lock_guard<std::mutex> lock(mtx_);
  clear_progress();
  const char* colour = r.level >= LogLevel::error ? red : r.level == LogLevel::warn ? yellow : dim;
  out_ << c(colour) << "        runtime " << to_string(r.level) << " " << r.event << ": " << r.message << c(off) << "\n";
  out_.flush();
}

void TextStepLog::report(const RunReport& r) {
  std::lock_guard<std::mutex> lock(mtx_);
  clear_progress();
  out_ << "\n" << r.to_text(options_.colour) << "\n";
  out_.flush();
}

void TextStepLog::cluster_event(const std::string&, const json::object&, const std::string& text) {
  std::lock_guard<std::mutex> lock(mtx_);
  clear_progress();
  out_ << c(dim) << "        cluster " << text << c(off) << "\n";
  out_.flush();
}

void TextStepLog::finished(const RunResult& r) {
  std::lock_guard<std::mutex> lock(mtx_);
  clear_progress();
  if (r.passed) {
    out_ << c(bold) << c(green) << "PASSED" << c(off) << "  " << r.report.scenario << ": " << counted(steps_, "step") << " in "
         << human_seconds(since(t0_)) << "\n";
  } else if (r.interrupted) {
    out_ << c(bold) << c(yellow) << "INTERRUPTED" << c(off) << "  " << r.report.scenario << " after " << r.steps_run
         << " of " << counted(steps_, "step") << ": acknowledged commands are committed, the store is consistent\n";
  } else if (r.failed_step) {
    out_ << c(bold) << c(red) << "FAILED" << c(off) << "  " << r.report.scenario << ": step " << r.failed_step->number
         << " (" << r.failed_step->kind << "): " << r.failed_step->failure << "\n";
  }
  out_.flush();
}

JsonStepLog::JsonStepLog(std::ostream& out) : out_(out) {}

void JsonStepLog::line(const json::object& o) {
  std::lock_guard<std::mutex> lock(mtx_);
  out_ << plain_json(o) << "\n";
  out_.flush();
}

void JsonStepLog::started(const Scenario& s, const std::string& store) {
  json::array domains;
  for (const auto& d : s.domains) domains.push_back(json::value(d));
  line({{"event", "scenario.started"}, {"scenario", s.name}, {"file", s.file}, {"description", s.description},
        {"store", store}, {"domains", std::move(domains)}, {"steps", s.steps.size()}});
}

void JsonStepLog::step_finished(const Step& step, const StepOutcome& o) {
  json::object obj{{"event", "step"},  {"number", step.number}, {"kind", step.kind}, {"ok", o.ok},
                   {"summary", o.summary}, {"seconds", o.seconds}, {"details", o.details}};
  if (!step.note.empty()) obj["note"] = step.note;
  if (!o.ok) obj["failure"] = o.failure;
  line(obj);
}

void JsonStepLog::runtime_log(const LogRecord& r) {
  line({{"event", "runtime.log"}, {"level", to_string(r.level)}, {"name", r.event}, {"message", r.message},
        {"fields", r.fields}});
}

void JsonStepLog::report(const RunReport& r) { line({{"event", "report"}, {"report", r.to_json()}}); }

void JsonStepLog::cluster_event(const std::string& event, const json::object& fields, const std::string& text) {
  json::object o = fields;
  o["event"] = event;
  o["text"] = text;
  line(o);
}

void JsonStepLog::finished(const RunResult& r) {
  json::object o{{"event", "scenario.finished"}, {"scenario", r.report.scenario}, {"passed", r.passed},
                 {"interrupted", r.interrupted}, {"steps_run", r.steps_run}};
  if (r.failed_step)
    o["failed_step"] = json::object{{"number", r.failed_step->number}, {"kind", r.failed_step->kind},
                                    {"failure", r.failed_step->failure}};
  line(o);
}

} // namespace annals::scenarios
