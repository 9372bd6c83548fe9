// Stage: the envelope fields a caller filled in (ids, lengths, data size).
#include "pipeline/stages.hpp"

namespace annals::pipeline {

namespace {

class ValidateEnvelope final : public CommandStage {
public:
  explicit ValidateEnvelope(CommandLimits limits) : limits_(limits) {}
  void before_dispatch(Admission& a) override {
    if (auto err = annals::validate_envelope(a.command, limits_)) a.halt(CommandResult::reject(a.command.stream(), *err));
  }

private:
  CommandLimits limits_;
};

} // namespace

std::unique_ptr<CommandStage> validate_envelope(CommandLimits limits) {
  return std::make_unique<ValidateEnvelope>(limits);
}

} // namespace annals::pipeline
