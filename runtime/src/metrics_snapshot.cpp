#include "metrics_snapshot.hpp"

#include <cmath>
#include <map>

namespace annals {

namespace {

std::string label(const prometheus::ClientMetric& m, const char* name) {
  for (const auto& l : m.label)
    if (l.name == name) return l.value;
  return {};
}

LatencyStats latency(const prometheus::ClientMetric::Histogram& h) {
  LatencyStats s;
  s.count = h.sample_count;
  s.sum = h.sample_sum;
  s.p50 = histogram_quantile(h, 0.50);
  s.p95 = histogram_quantile(h, 0.95);
  s.p99 = histogram_quantile(h, 0.99);
  return s;
}

// Adds one series' buckets to a running total (every series has the same bounds).
void merge_into(prometheus::ClientMetric::Histogram& total, const prometheus::ClientMetric::Histogram& h) {
  if (total.bucket.empty()) {
    total = h;
    return;
  }
  total.sample_count += h.sample_count;
  total.sample_sum += h.sample_sum;
  for (std::size_t i = 0; i < total.bucket.size() && i < h.bucket.size(); ++i)
    total.bucket[i].cumulative_count += h.bucket[i].cumulative_count;
}

} // namespace

double histogram_quantile(const prometheus::ClientMetric::Histogram& h, double q) {
  if (h.sample_count == 0) return 0;
  const double target = q * static_cast<double>(h.sample_count);
  double lower = 0;
  std::uint64_t below = 0;
  for (const auto& b : h.bucket) {
    if (static_cast<double>(b.cumulative_count) >= target) {
      if (std::isinf(b.upper_bound)) return lower;  // beyond the last finite bound
      const auto in_bucket = b.cumulative_count - below;
      if (in_bucket == 0) return b.upper_bound;
      return lower + (b.upper_bound - lower) * (target - static_cast<double>(below)) / static_cast<double>(in_bucket);
    }
    lower = b.upper_bound;
    below = b.cumulative_count;
  }
  return lower;
}

MetricsSnapshot metrics_snapshot(const std::vector<prometheus::MetricFamily>& families) {
  std::map<std::pair<std::string, std::string>, CommandStats> commands;
  std::map<std::string, AggregateStats> aggregates;
  std::map<std::string, ProjectionStats> projections;
  std::map<std::pair<std::string, std::string>, QueryStats> queries;
  prometheus::ClientMetric::Histogram all_commands, all_queries;

  for (const auto& f : families) {
    for (const auto& m : f.metric) {
      const auto agg = label(m, "aggregate");
      const auto proj = label(m, "projection");
      if (f.name == "annals_commands_total") {
        auto& c = commands[{agg, label(m, "command")}];
        const auto outcome = label(m, "outcome");
        const auto n = static_cast<std::uint64_t>(m.counter.value);
        if (outcome == "accepted") c.accepted = n;
        else if (outcome == "rejected") c.rejected = n;
        else if (outcome == "denied") c.denied = n;
        else if (outcome == "failed") c.failed = n;
      } else if (f.name == "annals_command_duration_seconds") {
        commands[{agg, label(m, "command")}].latency = latency(m.histogram);
        merge_into(all_commands, m.histogram);
      } else if (f.name == "annals_cluster_forwarded_commands_total") {
        auto& c = commands[{agg, label(m, "command")}].forwarded;
        const auto outcome = label(m, "outcome");
        const auto n = static_cast<std::uint64_t>(m.counter.value);
        if (outcome == "accepted") c.accepted = n;
        else if (outcome == "rejected") c.rejected = n;
        else if (outcome == "failed") c.failed = n;
        else if (outcome == "node_unavailable") c.node_unavailable = n;
      } else if (f.name == "annals_cluster_forward_duration_seconds") {
        commands[{agg, label(m, "command")}].forwarded.latency = latency(m.histogram);
      } else if (f.name == "annals_idempotent_replays_total") {
        commands[{agg, label(m, "command")}].replays = static_cast<std::uint64_t>(m.counter.value);
      } else if (f.name == "annals_active_aggregates") {
        aggregates[agg].active = static_cast<std::int64_t>(m.gauge.value);
      } else if (f.name == "annals_aggregate_recoveries_total") {
        aggregates[agg].recoveries = static_cast<std::uint64_t>(m.counter.value);
      } else if (f.name == "annals_aggregate_conflict_reloads_total") {
        aggregates[agg].conflict_reloads = static_cast<std::uint64_t>(m.counter.value);
      } else if (f.name == "annals_cluster_fenced_appends_total") {
        aggregates[agg].fenced_appends = static_cast<std::uint64_t>(m.counter.value);
      } else if (f.name == "annals_aggregate_evictions_total") {
        aggregates[agg].evictions = static_cast<std::uint64_t>(m.counter.value);
      } else if (f.name == "annals_aggregate_recovery_duration_seconds") {
        aggregates[agg].recovery = latency(m.histogram);
      } else if (f.name == "annals_projection_events_applied_total") {
        projections[proj].applied = static_cast<std::uint64_t>(m.counter.value);
      } else if (f.name == "annals_projection_lag_seconds") {
        projections[proj].lag = latency(m.histogram);
      } else if (f.name == "annals_projection_backlog") {
        projections[proj].backlog = static_cast<std::int64_t>(m.gauge.value);
      } else if (f.name == "annals_projection_checkpoint") {
        projections[proj].checkpoint = static_cast<std::int64_t>(m.gauge.value);
      } else if (f.name == "annals_projection_restarts_total") {
        projections[proj].restarts = static_cast<std::uint64_t>(m.counter.value);
      } else if (f.name == "annals_projection_errors_total") {
        projections[proj].errors = static_cast<std::uint64_t>(m.counter.value);
      } else if (f.name == "annals_projection_parked_events") {
        projections[proj].parked = static_cast<std::int64_t>(m.gauge.value);
      } else if (f.name == "annals_queries_total") {
        auto& q = queries[{proj, label(m, "query")}];
        (label(m, "outcome") == "ok" ? q.ok : q.errors) = static_cast<std::uint64_t>(m.counter.value);
      } else if (f.name == "annals_query_duration_seconds") {
        queries[{proj, label(m, "query")}].latency = latency(m.histogram);
        merge_into(all_queries, m.histogram);
      }
    }
  }
  MetricsSnapshot out;
  out.command_latency = latency(all_commands);
  out.query_latency = latency(all_queries);
  for (auto& [k, c] : commands) {
    c.aggregate = k.first;
    c.command = k.second;
    out.commands.push_back(std::move(c));
  }
  for (auto& [k, a] : aggregates) {
    a.aggregate = k;
    out.aggregates.push_back(std::move(a));
  }
  for (auto& [k, p] : projections) {
    p.projection = k;
    out.projections.push_back(std::move(p));
  }
  for (auto& [k, q] : queries) {
    q.projection = k.first;
    q.query = k.second;
    out.queries.push_back(std::move(q));
  }
  return out;
}

CommandStats MetricsSnapshot::command_totals() const {
  CommandStats t;
  t.aggregate = "*";
  t.command = "*";
  for (const auto& c : commands) {
    t.accepted += c.accepted;
    t.rejected += c.rejected;
    t.denied += c.denied;
    t.failed += c.failed;
    t.replays += c.replays;
    t.forwarded.accepted += c.forwarded.accepted;
    t.forwarded.rejected += c.forwarded.rejected;
    t.forwarded.failed += c.forwarded.failed;
    t.forwarded.node_unavailable += c.forwarded.node_unavailable;
  }
  t.latency = command_latency;
  return t;
}

std::uint64_t MetricsSnapshot::query_total() const {
  std::uint64_t n = 0;
  for (const auto& q : queries) n += q.ok + q.errors;
  return n;
}

} // namespace annals
