#include "metrics_registry_impl.hpp"
#include "metrics_snapshot.hpp"

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace annals {

MetricsRegistry::MetricsRegistry() : impl_(std::make_unique<Impl>()) {}
MetricsRegistry::~MetricsRegistry() = default;

MetricsSnapshot MetricsRegistry::snapshot() const {
  return metrics_snapshot(impl_->instruments->registry()->Collect());
}

std::string MetricsRegistry::text() const {
  return prometheus::TextSerializer().Serialize(impl_->instruments->registry()->Collect());
}

std::shared_ptr<MetricsRegistry> make_metrics_registry() { return std::make_shared<MetricsRegistry>(); }

} // namespace annals
