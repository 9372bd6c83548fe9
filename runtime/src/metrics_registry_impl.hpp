#pragma once
// What a MetricsRegistry holds: the runtime's instruments (prometheus-cpp's
// registry with the metric families and cached handles).

#include "annals/actors/instruments.hpp"
#include "annals/metrics_registry.hpp"

namespace annals {

struct MetricsRegistry::Impl {
  std::shared_ptr<actors::Instruments> instruments = std::make_shared<actors::Instruments>();
  std::mutex sources_mtx;
  std::vector<std::weak_ptr<prometheus::Collectable>> sources;  ///< add_collectable
};

} // namespace annals
