#include "annals/scenarios/run_report.hpp"

#include <cstdio>
#include <sstream>

namespace annals::scenarios {

namespace {

json::object latency_json(const LatencyStats& l) {
  return {{"count", l.count}, {"p50_ms", l.p50 * 1e3}, {"p95_ms", l.p95 * 1e3}, {"p99_ms", l.p99 * 1e3},
          {"mean_ms", l.count ? l.sum / static_cast<double>(l.count) * 1e3 : 0.0}};
}

const char* paint(bool colour, const char* code) { return colour ? code : ""; }

} // namespace

std::string human_seconds(double s) {
  char buf[32];
  if (s < 0.001) std::snprintf(buf, sizeof buf, "%.0f us", s * 1e6);
  else if (s < 0.01) std::snprintf(buf, sizeof buf, "%.1f ms", s * 1e3);
  else if (s < 1) std::snprintf(buf, sizeof buf, "%.0f ms", s * 1e3);
  else std::snprintf(buf, sizeof buf, "%.2f s", s);
  return buf;
}

RunReport RunReport::from(const MetricsSnapshot& m, std::string scenario, double seconds, std::int64_t head) {
  RunReport r;
  r.scenario = std::move(scenario);
  r.seconds = seconds;
  r.head = head;
  r.commands = m.command_totals();
  for (const auto& c : m.commands)
    if (c.accepted + c.rejected + c.denied + c.failed > 0) r.by_command.push_back(c);
  r.projections = m.projections;
  for (const auto& q : m.queries) {
    r.queries += q.ok + q.errors;
    r.query_errors += q.errors;
  }
  r.query_latency = m.query_latency;
  const auto writes = r.commands.accepted + r.commands.rejected + r.commands.denied + r.commands.failed;
  r.read_write_ratio = writes ? static_cast<double>(r.queries) / static_cast<double>(writes) : 0.0;
  for (const auto& a : m.aggregates) {
    r.recoveries += a.recoveries;
    if (a.recovery.count > r.recovery.count) r.recovery = a.recovery;  // the busiest type's figures
  }
  return r;
}

json::object RunReport::to_json() const {
  json::object cmds{{"accepted", commands.accepted}, {"rejected", commands.rejected}, {"denied", commands.denied},
                    {"failed", commands.failed},     {"replayed", commands.replays}, {"latency", latency_json(commands.latency)}};
  json::array per;
  for (const auto& c : by_command)
    per.push_back(json::object{{"aggregate", c.aggregate}, {"command", c.command}, {"accepted", c.accepted},
                               {"rejected", c.rejected},   {"denied", c.denied},   {"failed", c.failed},
                               {"replayed", c.replays},    {"latency", latency_json(c.latency)}});
  cmds["by_command"] = std::move(per);
  json::array projs;
  for (const auto& p : projections)
    projs.push_back(json::object{{"name", p.projection}, {"applied", p.applied},  {"checkpoint", p.checkpoint},
                                 {"backlog", p.backlog},  {"restarts", p.restarts}, {"errors", p.errors},
                                 {"parked", p.parked},    {"lag", latency_json(p.lag)}});
  json::object out{{"scenario", scenario},
          {"seconds", seconds},
          {"events", head},
          {"commands", std::move(cmds)},
          {"projections", std::move(projs)},
          {"queries", json::object{{"count", queries}, {"errors", query_errors}, {"latency", latency_json(query_latency)}}},
          {"read_write_ratio", read_write_ratio},
          {"recoveries", json::object{{"count", recoveries}, {"latency", latency_json(recovery)}}}};
  if (!nodes.empty()) {
    json::array per_node;
    for (const auto& n : nodes) {
      json::object o{{"node", n.node}, {"state", n.state}, {"sent", n.sent}, {"accepted", n.accepted},
                     {"rejected", n.rejected}, {"failed", n.failed}, {"node_unavailable", n.node_unavailable}};
      if (n.shards >= 0) o["shards"] = n.shards;
      else o["shards"] = nullptr;
      per_node.push_back(std::move(o));
    }
    out["nodes"] = std::move(per_node);
  }
  return out;
}

std::string RunReport::to_text(bool colour) const {
  const char* bold = paint(colour, "\033[1m");
  const char* dim = paint(colour, "\033[2m");
  const char* red = paint(colour, "\033[31m");
  const char* off = paint(colour, "\033[0m");
  std::ostringstream os;
  char line[512];
  os << bold << "Report" << off << dim << "  " << scenario << ", " << human_seconds(seconds) << ", "
     << counted(head, "event") << " in the store" << off << "\n";
  std::snprintf(line, sizeof line, "  commands     %llu accepted (%llu replayed), %llu rejected, %llu denied, ",
                static_cast<unsigned long long>(commands.accepted), static_cast<unsigned long long>(commands.replays),
                static_cast<unsigned long long>(commands.rejected), static_cast<unsigned long long>(commands.denied));
  os << line << (commands.failed ? red : "") << commands.failed << " failed" << off << "\n";
  os << "               latency p50 " << human_seconds(commands.latency.p50) << ", p95 "
     << human_seconds(commands.latency.p95) << ", p99 " << human_seconds(commands.latency.p99) << "\n";
  if (!projections.empty()) {
    std::size_t w = 10;
    for (const auto& p : projections) w = std::max(w, p.projection.size());
    os << "  projections\n";
    for (const auto& p : projections) {
      std::snprintf(line, sizeof line, "    %-*s applied %-7llu lag p50 %-8s p99 %-8s backlog %-5lld restarts %-3llu ",
                    static_cast<int>(w), p.projection.c_str(), static_cast<unsigned long long>(p.applied),
                    human_seconds(p.lag.p50).c_str(), human_seconds(p.lag.p99).c_str(),
                    static_cast<long long>(p.backlog), static_cast<unsigned long long>(p.restarts));
      os << line << (p.parked ? red : "") << "parked " << p.parked << off << "\n";
    }
  }
  std::snprintf(line, sizeof line, "  queries      %llu (%s), latency p50 %s, p99 %s; read/write ratio %.3g\n",
                static_cast<unsigned long long>(queries), counted(query_errors, "error").c_str(),
                human_seconds(query_latency.p50).c_str(), human_seconds(query_latency.p99).c_str(), read_write_ratio);
  os << line;
  if (recoveries)
    os << "  recoveries   " << counted(recoveries, "aggregate instance") << ", p99 " << human_seconds(recovery.p99) << "\n";
  if (!nodes.empty()) {
    os << "  nodes\n";
    for (const auto& n : nodes) {
      std::snprintf(line, sizeof line, "    %-4s %-8s sent %-6llu accepted %-6llu rejected %-5llu ", n.node.c_str(),
                    n.state.c_str(), static_cast<unsigned long long>(n.sent), static_cast<unsigned long long>(n.accepted),
                    static_cast<unsigned long long>(n.rejected));
      os << line << (n.failed ? red : "") << "failed " << n.failed << off << " (node_unavailable " << n.node_unavailable
         << "), shards " << (n.shards >= 0 ? std::to_string(n.shards) : std::string("-")) << "\n";
    }
  }
  return os.str();
}

} // namespace annals::scenarios
