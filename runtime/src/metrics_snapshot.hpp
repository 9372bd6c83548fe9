#pragma once
// Turns prometheus-cpp's collected families into annals::MetricsSnapshot.

#include "annals/metrics.hpp"

#include <prometheus/metric_family.h>

#include <vector>

namespace annals {

MetricsSnapshot metrics_snapshot(const std::vector<prometheus::MetricFamily>& families);

/// The q-quantile (0..1) of a histogram, interpolated linearly inside the
/// bucket that holds it.
double histogram_quantile(const prometheus::ClientMetric::Histogram& h, double q);

} // namespace annals
