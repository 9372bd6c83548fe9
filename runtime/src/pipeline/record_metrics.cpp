// Stage: every command's outcome and latency, in its command type's series.
#include "pipeline/stages.hpp"

namespace annals::pipeline {

namespace {

class RecordMetrics final : public CommandStage {
public:
  explicit RecordMetrics(actors::CommandInstruments invalid) : invalid_(invalid) {}
  void after_dispatch(Admission& a) override { record(a); }
  void after_failure(Admission& a) override { record(a); }

private:
  void record(const Admission& a) const {
    const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - a.received).count();
    (a.metrics ? *a.metrics : invalid_).record(*a.result, took);
  }
  actors::CommandInstruments invalid_;
};

} // namespace

std::unique_ptr<CommandStage> record_metrics(actors::CommandInstruments invalid) {
  return std::make_unique<RecordMetrics>(invalid);
}

} // namespace annals::pipeline
