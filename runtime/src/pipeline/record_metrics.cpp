// Stage: every command's outcome and latency, in its command type's series.
// A command forwarded to another node counts in the forwarded series here;
// in the command series only where it ran (here too when it never got there).
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
    const auto& series = a.metrics ? *a.metrics : invalid_;
    if (a.forwarded) series.record_forward(*a.result, took);
    if (!a.ran_elsewhere) series.record(*a.result, took);
  }
  actors::CommandInstruments invalid_;
};

} // namespace

std::unique_ptr<CommandStage> record_metrics(actors::CommandInstruments invalid) {
  return std::make_unique<RecordMetrics>(invalid);
}

} // namespace annals::pipeline
