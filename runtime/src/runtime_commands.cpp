// The Runtime facade, command side: execute, execute_async, inspect.
#include "runtime_impl.hpp"

namespace annals {

CommandResult Runtime::execute(Command command) {
  return execute(std::move(command), impl_->options.command_timeout);
}

CommandResult Runtime::execute(Command command, std::chrono::milliseconds timeout) {
  const auto t0 = std::chrono::steady_clock::now();
  const CommandInstruments* metrics = nullptr;
  if (auto early = impl_->precheck(command, metrics)) {
    metrics->record(*early, seconds_since(t0));
    auto skeleton = impl_->audit_skeleton(command);
    impl_->audit(skeleton ? &*skeleton : nullptr, *early);
    return *early;
  }
  const auto skeleton = impl_->audit_skeleton(command);
  const StreamId stream = command.stream();
  if (!impl_->enter())
    return CommandResult::fail(stream, Error{errc::shutting_down, "the runtime is shutting down"});
  CommandResult out;
  {
    caf::scoped_actor self{*impl_->sys};
    CommandEnvelope env{std::move(command), std::chrono::steady_clock::now() + timeout};
    self->request(impl_->router, timeout, execute_atom::value, std::move(env))
      .receive([&](CommandResult& r) { out = std::move(r); },
               [&](caf::error& e) { out = CommandResult::fail(stream, from_caf_error(*impl_->sys, e)); });
  }
  metrics->record(out, seconds_since(t0));
  impl_->audit(skeleton ? &*skeleton : nullptr, out);  // before leave(): the journal is still there
  impl_->leave();
  return out;
}

CommandResult Runtime::execute_json(std::string_view json_text) {
  const auto t0 = std::chrono::steady_clock::now();
  auto cmd = parse_command(json_text, impl_->options.limits);
  if (!cmd) {
    auto r = CommandResult::reject(StreamId{}, cmd.error());
    impl_->invalid_commands.record(r, seconds_since(t0));
    AuditRecord unparsed;
    impl_->audit(&unparsed, r);
    return r;
  }
  return execute(std::move(*cmd));
}

void Runtime::execute_async(Command command, std::function<void(CommandResult)> done) {
  const auto t0 = std::chrono::steady_clock::now();
  const CommandInstruments* metrics = nullptr;
  auto early = impl_->precheck(command, metrics);
  auto skeleton = impl_->audit_skeleton(command);
  const StreamId stream = command.stream();
  // Counted in flight until its callback ran, refused commands included, so
  // shutdown never stops a gateway that still holds a result.
  if (!impl_->enter())
    return done(CommandResult::fail(stream, Error{errc::shutting_down, "the runtime is shutting down"}));
  Impl* impl = impl_.get();
  auto callback = std::make_shared<const std::function<void(CommandResult)>>(
    [impl, metrics, t0, skeleton = std::move(skeleton), done = std::move(done)](CommandResult r) {
      metrics->record(r, seconds_since(t0));
      impl->audit(skeleton ? &*skeleton : nullptr, r);
      // An exception must not escape into the actor that runs the callback.
      try {
        done(std::move(r));
      } catch (const std::exception& e) {
        impl->log->log(LogLevel::error, "callback.failed", std::string("an execute_async callback threw: ") + e.what());
      } catch (...) {
        impl->log->log(LogLevel::error, "callback.failed", "an execute_async callback threw");
      }
      impl->leave();
    });
  // Both paths go through the stream's gateway: callbacks run on a runtime
  // thread, and one thread's commands to one aggregate keep their order.
  const auto& gw = impl_->gateways[std::hash<std::string>{}(stream.to_string()) % impl_->gateways.size()];
  if (early) {
    caf::anon_send(gw, std::move(*early), std::move(callback));
    return;
  }
  CommandEnvelope env{std::move(command), std::chrono::steady_clock::now() + impl_->options.command_timeout};
  caf::anon_send(gw, execute_atom::value, std::move(env), std::move(callback));
}

std::future<CommandResult> Runtime::execute_async(Command command) {
  auto p = std::make_shared<std::promise<CommandResult>>();
  auto f = p->get_future();
  execute_async(std::move(command), [p](CommandResult r) { p->set_value(std::move(r)); });
  return f;
}

Expected<AggregateInspection> Runtime::inspect(const std::string& aggregate, const std::string& id) {
  if (!impl_->types.find(aggregate))
    return Error{errc::unknown_aggregate, "no aggregate type '" + aggregate + "'"};
  if (!impl_->enter()) return Error{errc::shutting_down, "the runtime is shutting down"};
  std::optional<Expected<AggregateInspection>> out;
  {
    caf::scoped_actor self{*impl_->sys};
    self->request(impl_->router, impl_->options.command_timeout, inspect_atom::value, StreamId{aggregate, id})
      .receive(
        [&](AggregateView& v) {
          if (v.error) out.emplace(*v.error);
          else out.emplace(AggregateInspection{v.version, std::move(v.state)});
        },
        [&](caf::error& e) { out.emplace(from_caf_error(*impl_->sys, e)); });
  }
  impl_->leave();
  return std::move(*out);
}

std::size_t Runtime::active_aggregates() {
  if (!impl_->enter()) return 0;
  std::size_t n = 0;
  {
    caf::scoped_actor self{*impl_->sys};
    self->request(impl_->router, impl_->options.command_timeout, count_atom::value)
      .receive([&](std::size_t x) { n = x; }, [&](caf::error&) {});
  }
  impl_->leave();
  return n;
}

} // namespace annals
