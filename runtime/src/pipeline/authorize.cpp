// Stage: the runtime's one authorization hook, for every entry point.
#include "pipeline/stages.hpp"

#include <exception>

namespace annals::pipeline {

namespace {

class Authorize final : public CommandStage {
public:
  explicit Authorize(CommandPolicy policy) : policy_(std::move(policy)) {}
  void before_dispatch(Admission& a) override {
    if (!policy_) return;
    AuthDecision d;
    try {
      d = policy_(a.command.metadata.principal, a.command);
    } catch (const std::exception& e) {
      d = AuthDecision::deny(std::string("the authorization policy failed: ") + e.what());
    }
    if (!d.allowed)
      a.halt(CommandResult::reject(a.command.stream(), Error{errc::forbidden, d.reason.empty() ? "denied" : d.reason}));
  }

private:
  CommandPolicy policy_;
};

} // namespace

std::unique_ptr<CommandStage> authorize(CommandPolicy policy) { return std::make_unique<Authorize>(std::move(policy)); }

} // namespace annals::pipeline
