#pragma once
// What a MetricsRegistry holds: the runtime's instruments (prometheus-cpp's
// registry with the metric families and cached handles).

#include "annals/actors/instruments.hpp"
#include "annals/metrics_registry.hpp"

namespace annals {

struct MetricsRegistry::Impl {
  std::shared_ptr<actors::Instruments> instruments = std::make_shared<actors::Instruments>();
};

} // namespace annals
