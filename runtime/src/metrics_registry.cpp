#include "metrics_registry_impl.hpp"
#include "metrics_snapshot.hpp"

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace annals {

namespace {

std::vector<prometheus::MetricFamily> collect(MetricsRegistry::Impl& impl) {
  auto families = impl.instruments->registry()->Collect();
  std::lock_guard<std::mutex> lock(impl.sources_mtx);
  for (auto it = impl.sources.begin(); it != impl.sources.end();) {
    if (auto source = it->lock()) {
      for (auto& f : source->Collect()) families.push_back(std::move(f));
      ++it;
    } else {
      it = impl.sources.erase(it);
    }
  }
  return families;
}

} // namespace

MetricsRegistry::MetricsRegistry() : impl_(std::make_unique<Impl>()) {}
MetricsRegistry::~MetricsRegistry() = default;

MetricsSnapshot MetricsRegistry::snapshot() const { return metrics_snapshot(collect(*impl_)); }

std::string MetricsRegistry::text() const { return prometheus::TextSerializer().Serialize(collect(*impl_)); }

void MetricsRegistry::add_collectable(std::weak_ptr<prometheus::Collectable> source) {
  std::lock_guard<std::mutex> lock(impl_->sources_mtx);
  impl_->sources.push_back(std::move(source));
}

std::shared_ptr<MetricsRegistry> make_metrics_registry() { return std::make_shared<MetricsRegistry>(); }

} // namespace annals
