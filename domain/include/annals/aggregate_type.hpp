#pragma once
// AggregateType: a name, an initial state, a command handler (decide) and an
// event handler (evolve). Pure functions, no I/O: the runtime does the rest.
//
//   auto account = annals::AggregateType::define<Account>("account")
//     .handle<Deposit>([](const Account& s, const Deposit& c) -> annals::Decision {
//        if (!s.open) return annals::reject("account_closed", "...");
//        return annals::emit(Deposited{c.amount}); })
//     .apply<Deposited>([](Account& s, const Deposited& e) { s.balance += e.amount; })
//     .rejects("account_closed", "the account is closed")
//     .snapshot_every(100);
//
// Commands and events are domain structs described with BOOST_DESCRIBE_STRUCT
// that name their type (`static constexpr const char* command_type = "deposit";`,
// `event_type` likewise); their JSON is decoded with annals::decode, so a
// malformed command is rejected with invalid_command naming the field.

#include "annals/command.hpp"
#include "annals/decision.hpp"
#include "annals/event.hpp"
#include "annals/expected.hpp"
#include "annals/json.hpp"
#include "annals/json_shape.hpp"

#include <any>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace annals {

template <class State> class AggregateBuilder;

/// The type-erased aggregate definition the runtime holds. Build one with
/// AggregateType::define<State>(name); it is immutable afterwards and may be
/// shared by any number of aggregate instances on any thread.
class AggregateType {
public:
  using CommandHandler = std::function<Decision(const std::any& state, const Command&)>;
  using EventHandler = std::function<void(std::any& state, const Event&)>;

  template <class State>
  static AggregateBuilder<State> define(std::string name, State initial = State{});

  const std::string& name() const { return name_; }
  bool handles(const std::string& command_type) const { return commands_.count(command_type) > 0; }
  std::set<std::string> command_types() const;
  /// The event types it applies or ignores (every type its stream may hold).
  std::set<std::string> event_types() const;

  std::any initial_state() const { return initial_(); }

  /// For references generated from the types (`annals describe`): each
  /// command's data and each event's data as a json_shape ("any" where the
  /// handler takes raw JSON), and the rejection codes declared with
  /// rejects(), each with what it means.
  const std::map<std::string, json::value, std::less<>>& command_shapes() const { return command_shapes_; }
  const std::map<std::string, json::value, std::less<>>& event_shapes() const { return event_shapes_; }
  const std::map<std::string, std::string, std::less<>>& rejection_codes() const { return rejection_codes_; }

  /// Runs the command handler. Unknown command type: rejected with
  /// unknown_command. Exceptions from domain code propagate.
  Decision decide(const std::any& state, const Command& c) const;

  /// Applies one committed event. An event type with no handler (and not
  /// ignored) throws std::runtime_error: state must never silently diverge.
  void evolve(std::any& state, const Event& e) const;

  /// Snapshots every N events (0: never). Snapshots carry snapshot_version:
  /// bump it when the state's shape changes and old snapshots are ignored.
  int snapshot_every() const { return snapshot_every_; }
  int snapshot_version() const { return snapshot_version_; }
  json::value to_snapshot(const std::any& state) const { return save_(state); }
  Expected<std::any> from_snapshot(const json::value& v) const { return load_(v); }

  /// The state as JSON, for tools and tests (requires a described State).
  json::value state_to_json(const std::any& state) const { return describe_ ? describe_(state) : json::value{}; }

private:
  template <class State> friend class AggregateBuilder;

  std::string name_;
  std::function<std::any()> initial_;
  std::map<std::string, CommandHandler, std::less<>> commands_;
  std::map<std::string, EventHandler, std::less<>> events_;
  std::set<std::string, std::less<>> ignored_events_;
  std::map<std::string, json::value, std::less<>> command_shapes_;
  std::map<std::string, json::value, std::less<>> event_shapes_;
  std::map<std::string, std::string, std::less<>> rejection_codes_;
  int snapshot_every_ = 0;
  int snapshot_version_ = 1;
  std::function<json::value(const std::any&)> save_;
  std::function<Expected<std::any>(const json::value&)> load_;
  std::function<json::value(const std::any&)> describe_;
};

/// Typed builder for an AggregateType; converts to one when done.
template <class State>
class AggregateBuilder {
public:
  AggregateBuilder(std::string name, State initial) {
    if (name.empty()) throw std::invalid_argument("aggregate type name must not be empty");
    t_.name_ = std::move(name);
    t_.initial_ = [initial = std::move(initial)] { return std::any{initial}; };
    if constexpr (detail::is_described_v<State>)
      t_.describe_ = [](const std::any& s) { return encode(std::any_cast<const State&>(s)); };
  }

  /// Command handler for C (a described struct with `command_type`).
  /// f(const State&, const C&) or f(const State&, const C&, const Command&)
  /// (the latter sees metadata such as the principal); returns a Decision.
  template <class C, class F>
  AggregateBuilder& handle(F f) {
    t_.command_shapes_[C::command_type] = json_shape<C>();
    add_command(C::command_type, [f = std::move(f)](const std::any& s, const Command& cmd) -> Decision {
      auto payload = decode<C>(cmd.data);
      if (!payload) return Decision::reject(payload.error().code, payload.error().message);
      const State& state = std::any_cast<const State&>(s);
      if constexpr (std::is_invocable_v<F&, const State&, const C&, const Command&>)
        return f(state, *payload, cmd);
      else
        return f(state, *payload);
    });
    return *this;
  }

  /// Command handler on raw JSON: f(const State&, const Command&) -> Decision.
  AggregateBuilder& handle_json(std::string command_type,
                                std::function<Decision(const State&, const Command&)> f) {
    t_.command_shapes_[command_type] = "any";
    add_command(std::move(command_type), [f = std::move(f)](const std::any& s, const Command& cmd) {
      return f(std::any_cast<const State&>(s), cmd);
    });
    return *this;
  }

  /// Event handler for E (a described struct with `event_type`):
  /// f(State&, const E&) or f(State&, const E&, const Event&).
  template <class E, class F>
  AggregateBuilder& apply(F f) {
    t_.event_shapes_[E::event_type] = json_shape<E>();
    add_event(E::event_type, [f = std::move(f)](std::any& s, const Event& ev) {
      auto payload = decode<E>(ev.data);
      if (!payload)
        throw std::runtime_error("event " + std::to_string(ev.position) + " (" + ev.type
                                 + ") of " + ev.stream.to_string() + " cannot be read: "
                                 + payload.error().message);
      State& state = std::any_cast<State&>(s);
      if constexpr (std::is_invocable_v<F&, State&, const E&, const Event&>)
        f(state, *payload, ev);
      else
        f(state, *payload);
    });
    return *this;
  }

  /// Event handler on raw JSON: f(State&, const Event&).
  AggregateBuilder& apply_json(std::string event_type, std::function<void(State&, const Event&)> f) {
    t_.event_shapes_[event_type] = "any";
    add_event(std::move(event_type), [f = std::move(f)](std::any& s, const Event& ev) {
      f(std::any_cast<State&>(s), ev);
    });
    return *this;
  }

  /// Declares an event type that does not change this aggregate's state.
  AggregateBuilder& ignore(std::string event_type) {
    t_.event_shapes_.emplace(event_type, "any");
    t_.ignored_events_.insert(std::move(event_type));
    return *this;
  }

  /// Declares a rejection code its command handlers may answer, with what it
  /// means. `annals describe` lists them; the testkit fails a test whose
  /// command is rejected with a code the aggregate does not declare (once it
  /// declares any), so the list cannot go stale.
  AggregateBuilder& rejects(std::string code, std::string meaning) {
    if (code.empty()) throw std::invalid_argument("aggregate '" + t_.name_ + "': a rejection code must not be empty");
    t_.rejection_codes_[std::move(code)] = std::move(meaning);
    return *this;
  }

  /// Save a snapshot of the state every n events (State must be described,
  /// or have Boost.JSON conversions).
  AggregateBuilder& snapshot_every(int n, int snapshot_version = 1) {
    if (n < 0) throw std::invalid_argument("snapshot_every must be >= 0");
    t_.snapshot_every_ = n;
    t_.snapshot_version_ = snapshot_version;
    t_.save_ = [](const std::any& s) { return encode(std::any_cast<const State&>(s)); };
    t_.load_ = [](const json::value& v) -> Expected<std::any> {
      auto st = decode<State>(v);
      if (!st) return st.error();
      return std::any{std::move(*st)};
    };
    return *this;
  }

  AggregateType build() && { return std::move(t_); }
  AggregateType build() const& { return t_; }
  operator AggregateType() && { return std::move(t_); }
  operator AggregateType() const& { return t_; }

private:
  void add_command(std::string type, AggregateType::CommandHandler h) {
    if (!t_.commands_.emplace(type, std::move(h)).second)
      throw std::invalid_argument("aggregate '" + t_.name_ + "' has two handlers for command '" + type + "'");
  }
  void add_event(std::string type, AggregateType::EventHandler h) {
    if (!t_.events_.emplace(type, std::move(h)).second)
      throw std::invalid_argument("aggregate '" + t_.name_ + "' has two handlers for event '" + type + "'");
  }

  AggregateType t_;
};

template <class State>
AggregateBuilder<State> AggregateType::define(std::string name, State initial) {
  return AggregateBuilder<State>(std::move(name), std::move(initial));
}

} // namespace annals
