#include "annals/actors/instruments.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <mutex>
#include <set>

namespace annals::actors {

namespace {
using Labels = std::map<std::string, std::string>;
} // namespace

struct Instruments::Families {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& commands = prometheus::BuildCounter()
    .Name("annals_commands_total").Help("Commands by aggregate type, command type and outcome")
    .Labels({{"path", "command"}}).Register(*registry);
  prometheus::Family<prometheus::Histogram>& command_seconds = prometheus::BuildHistogram()
    .Name("annals_command_duration_seconds").Help("Command latency as the caller sees it")
    .Labels({{"path", "command"}}).Register(*registry);
  prometheus::Family<prometheus::Counter>& replays = prometheus::BuildCounter()
    .Name("annals_idempotent_replays_total").Help("Commands answered with the first result of their idempotency key")
    .Register(*registry);
  prometheus::Family<prometheus::Gauge>& active = prometheus::BuildGauge()
    .Name("annals_active_aggregates").Help("Aggregate instances activated and not passivated").Register(*registry);
  prometheus::Family<prometheus::Counter>& recoveries = prometheus::BuildCounter()
    .Name("annals_aggregate_recoveries_total").Help("Aggregate activations that recovered state from the store")
    .Register(*registry);
  prometheus::Family<prometheus::Histogram>& recovery_seconds = prometheus::BuildHistogram()
    .Name("annals_aggregate_recovery_duration_seconds").Help("Time to recover an aggregate (snapshot + events)")
    .Register(*registry);
  prometheus::Family<prometheus::Counter>& conflict_reloads = prometheus::BuildCounter()
    .Name("annals_aggregate_conflict_reloads_total")
    .Help("Appends that lost a version race to another writer, so the aggregate reloaded its stream and decided again")
    .Register(*registry);
  prometheus::Family<prometheus::Counter>& evictions = prometheus::BuildCounter()
    .Name("annals_aggregate_evictions_total")
    .Help("Idle aggregates passivated early because max_active_aggregates were active")
    .Register(*registry);
  prometheus::Family<prometheus::Counter>& fenced_appends = prometheus::BuildCounter()
    .Name("annals_cluster_fenced_appends_total")
    .Help("Appends refused because this node no longer held the stream's shard lease (not_owner), or never tried"
          " because it did not hold it")
    .Register(*registry);
  prometheus::Family<prometheus::Counter>& forwarded = prometheus::BuildCounter()
    .Name("annals_cluster_forwarded_commands_total")
    .Help("Commands this node sent to the node that holds their shard, by outcome there (node_unavailable: not"
          " reached)")
    .Register(*registry);
  prometheus::Family<prometheus::Histogram>& forward_seconds = prometheus::BuildHistogram()
    .Name("annals_cluster_forward_duration_seconds")
    .Help("Latency of forwarded commands at the node that forwarded them (round trip included)")
    .Register(*registry);
  prometheus::Family<prometheus::Counter>& applied = prometheus::BuildCounter()
    .Name("annals_projection_events_applied_total").Help("Events applied by a projection").Register(*registry);
  prometheus::Family<prometheus::Histogram>& lag = prometheus::BuildHistogram()
    .Name("annals_projection_lag_seconds").Help("Read freshness: commit time to apply time").Register(*registry);
  prometheus::Family<prometheus::Gauge>& backlog = prometheus::BuildGauge()
    .Name("annals_projection_backlog").Help("Head position seen by the projection minus its checkpoint")
    .Register(*registry);
  prometheus::Family<prometheus::Gauge>& checkpoint = prometheus::BuildGauge()
    .Name("annals_projection_checkpoint").Help("Last global position applied by the projection").Register(*registry);
  prometheus::Family<prometheus::Counter>& restarts = prometheus::BuildCounter()
    .Name("annals_projection_restarts_total").Help("Projector restarts by its supervisor").Register(*registry);
  prometheus::Family<prometheus::Counter>& errors = prometheus::BuildCounter()
    .Name("annals_projection_errors_total").Help("Events a projector failed to apply").Register(*registry);
  prometheus::Family<prometheus::Gauge>& parked = prometheus::BuildGauge()
    .Name("annals_projection_parked_events").Help("Events parked in the dead-letter list").Register(*registry);
  prometheus::Family<prometheus::Counter>& queries = prometheus::BuildCounter()
    .Name("annals_queries_total").Help("Queries by projection, query name and outcome")
    .Labels({{"path", "query"}}).Register(*registry);
  prometheus::Family<prometheus::Histogram>& query_seconds = prometheus::BuildHistogram()
    .Name("annals_query_duration_seconds").Help("Query latency as the caller sees it")
    .Labels({{"path", "query"}}).Register(*registry);

  std::mutex gauges_mtx;
  std::set<prometheus::Gauge*> gauges;  // every gauge handed out, for zero_gauges()
  prometheus::Gauge* gauge(prometheus::Family<prometheus::Gauge>& family, const Labels& labels) {
    auto* g = &family.Add(labels);
    std::lock_guard<std::mutex> lock(gauges_mtx);
    gauges.insert(g);
    return g;
  }
};

const std::vector<double>& Instruments::latency_buckets() {
  static const std::vector<double> b = [] {
    std::vector<double> v;
    for (double x = 50e-6; x <= 10.0 * 1.0001; x *= 1.5) v.push_back(x);
    v.push_back(10.0);
    return v;
  }();
  return b;
}

Instruments::Instruments() : f_(std::make_unique<Families>()) {}
Instruments::~Instruments() = default;

std::shared_ptr<prometheus::Registry> Instruments::registry() const { return f_->registry; }

AggregateInstruments Instruments::aggregate(const std::string& type) {
  const Labels l{{"aggregate", type}};
  return {f_->gauge(f_->active, l), &f_->recoveries.Add(l), &f_->recovery_seconds.Add(l, latency_buckets()),
          &f_->conflict_reloads.Add(l), &f_->evictions.Add(l), &f_->fenced_appends.Add(l)};
}

CommandInstruments Instruments::command(const std::string& aggregate, const std::string& command) {
  auto outcome = [&](const char* o) -> prometheus::Counter* {
    return &f_->commands.Add({{"aggregate", aggregate}, {"command", command}, {"outcome", o}});
  };
  CommandInstruments c;
  c.accepted = outcome("accepted");
  c.rejected = outcome("rejected");
  c.denied = outcome("denied");
  c.failed = outcome("failed");
  c.replays = &f_->replays.Add({{"aggregate", aggregate}, {"command", command}});
  c.latency = &f_->command_seconds.Add({{"aggregate", aggregate}, {"command", command}}, latency_buckets());
  auto forwarded = [&](const char* o) -> prometheus::Counter* {
    return &f_->forwarded.Add({{"aggregate", aggregate}, {"command", command}, {"outcome", o}});
  };
  c.forwarded_accepted = forwarded("accepted");
  c.forwarded_rejected = forwarded("rejected");
  c.forwarded_failed = forwarded("failed");
  c.forwarded_unavailable = forwarded("node_unavailable");
  c.forward_latency = &f_->forward_seconds.Add({{"aggregate", aggregate}, {"command", command}}, latency_buckets());
  return c;
}

ProjectionInstruments Instruments::projection(const std::string& name) {
  const Labels l{{"projection", name}};
  return {&f_->applied.Add(l),
          &f_->lag.Add(l, latency_buckets()),
          f_->gauge(f_->backlog, l),
          f_->gauge(f_->checkpoint, l),
          &f_->restarts.Add(l),
          &f_->errors.Add(l),
          f_->gauge(f_->parked, l)};
}

QueryInstruments Instruments::query(const std::string& projection, const std::string& query) {
  auto outcome = [&](const char* o) -> prometheus::Counter* {
    return &f_->queries.Add({{"projection", projection}, {"query", query}, {"outcome", o}});
  };
  return {outcome("ok"), outcome("error"),
          &f_->query_seconds.Add({{"projection", projection}, {"query", query}}, latency_buckets())};
}

void Instruments::zero_gauges() {
  std::lock_guard<std::mutex> lock(f_->gauges_mtx);
  for (auto* g : f_->gauges) g->Set(0);
}

void CommandInstruments::record(const CommandResult& r, double seconds) const {
  if (r.accepted()) {
    accepted->Increment();
    if (r.replayed) replays->Increment();
  } else if (r.rejected()) {
    (r.code() == errc::forbidden ? denied : rejected)->Increment();
  } else {
    failed->Increment();
  }
  latency->Observe(seconds);
}

void CommandInstruments::record_forward(const CommandResult& r, double seconds) const {
  if (r.accepted()) forwarded_accepted->Increment();
  else if (r.rejected()) forwarded_rejected->Increment();
  else if (r.code() == errc::node_unavailable) forwarded_unavailable->Increment();
  else forwarded_failed->Increment();
  forward_latency->Observe(seconds);
}

void QueryInstruments::record(bool is_ok, double seconds) const {
  (is_ok ? ok : errors)->Increment();
  latency->Observe(seconds);
}

} // namespace annals::actors
