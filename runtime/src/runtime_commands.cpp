// The Runtime facade, command side: execute, execute_json, execute_async (all
// through the command pipeline), inspect, active_aggregates.
#include "runtime_impl.hpp"

#include "pipeline/stages.hpp"

namespace annals {

CommandResult Runtime::execute(Command command) {
  return execute(std::move(command), impl_->options.command_timeout);
}

CommandResult Runtime::execute(Command command, std::chrono::milliseconds timeout) {
  return impl_->commands->run(std::move(command), timeout);
}

CommandResult Runtime::execute_json(std::string_view json_text) {
  const auto received = std::chrono::steady_clock::now();
  auto cmd = parse_command(json_text, impl_->options.limits);
  if (!cmd) return impl_->commands->refuse(CommandResult::reject(StreamId{}, cmd.error()), received);
  return execute(std::move(*cmd));
}

void Runtime::execute_async(Command command, std::function<void(CommandResult)> done) {
  impl_->commands->run_async(std::move(command), impl_->options.command_timeout, std::move(done));
}

void Runtime::execute_forwarded(Command command, std::chrono::milliseconds timeout,
                                std::function<void(CommandResult)> done) {
  impl_->commands->run_async(std::move(command), std::min(timeout, impl_->options.command_timeout), std::move(done),
                             /*arrived_forwarded=*/true);
}

std::future<CommandResult> Runtime::execute_async(Command command) {
  auto p = std::make_shared<std::promise<CommandResult>>();
  auto f = p->get_future();
  execute_async(std::move(command), [p](CommandResult r) { p->set_value(std::move(r)); });
  return f;
}

Expected<AggregateInspection> Runtime::inspect(const std::string& aggregate, const std::string& id) {
  auto type = pipeline::find_aggregate(impl_->types, aggregate);
  if (!type) return type.error();
  auto out = ask<Expected<AggregateInspection>>(*impl_->sys, impl_->calls, impl_->registry,
                                                impl_->options.command_timeout, inspect_atom::value,
                                                std::move(*type), StreamId{aggregate, id});
  if (!out) return out.error();
  return std::move(*out);
}

std::size_t Runtime::active_aggregates() {
  auto n = ask<std::size_t>(*impl_->sys, impl_->calls, impl_->registry, impl_->options.command_timeout,
                            count_atom::value);
  return n ? *n : 0;
}

std::size_t Runtime::stop_aggregates_of_shards(const std::vector<int>& shards) {
  const auto& ownership = impl_->options.shard_ownership;
  if (!ownership || shards.empty()) return 0;
  auto n = ask<std::size_t>(*impl_->sys, impl_->calls, impl_->registry, impl_->options.command_timeout,
                            stop_shards_atom::value, shards, ownership->shard_count());
  return n ? *n : 0;
}

} // namespace annals
