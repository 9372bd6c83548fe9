// Stage: a command without an id gets one; a command that starts a
// conversation correlates with itself.
#include "pipeline/stages.hpp"

namespace annals::pipeline {

namespace {

class AssignIds final : public CommandStage {
public:
  void before_dispatch(Admission& a) override {
    Command& c = a.command;
    if (c.command_id.empty()) c.command_id = make_uuid();
    if (c.metadata.correlation_id.empty()) c.metadata.correlation_id = c.command_id;
  }
};

} // namespace

std::unique_ptr<CommandStage> assign_ids() { return std::make_unique<AssignIds>(); }

} // namespace annals::pipeline
