// Fuzzes the command envelope (parse_command) and the decoding of its data
// into a real aggregate's commands (the bank account), as the runtime does
// with a JSON caller's bytes. Checks, beyond "no crash, no UB":
//  - a parsed command's envelope, written back as JSON, parses again to the
//    same command (fingerprint and metadata), so what is stored re-reads;
//  - deciding it on the account's states never throws: bad data is a
//    rejection (invalid_command naming the field), never an exception;
//  - the events an accepted command emits apply to the state (stored as
//    text, read back) without an exception or undefined behaviour.
#include <annals/aggregate_type.hpp>
#include <annals/command.hpp>
#include <annals/decision.hpp>
#include <annals/event.hpp>
#include <bank/account.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

[[noreturn]] void fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz_command_json: %s: %.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

// The bank account after a few events (versions 1..n), to decide on.
std::any account_after(const annals::AggregateType& type, std::initializer_list<annals::NewEvent> events) {
  std::any state = type.initial_state();
  std::int64_t version = 0;
  for (const auto& ne : events) {
    annals::Event e;
    e.stream = {"account", "acc-1"};
    e.version = ++version;
    e.position = version;
    e.type = ne.type;
    e.schema_version = ne.schema_version;
    e.data = ne.data;
    type.evolve(state, e);
  }
  return state;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  static const annals::AggregateType account = bank::account_type();
  static const std::any fresh = account.initial_state();
  static const std::any funded = account_after(
    account, {annals::to_new_event(bank::AccountOpened{"Ada"}), annals::to_new_event(bank::Deposited{100})});
  static const std::any closed = account_after(
    account, {annals::to_new_event(bank::AccountOpened{"Bob"}), annals::to_new_event(bank::AccountClosed{})});

  const std::string_view text(reinterpret_cast<const char*>(bytes), size);
  auto parsed = annals::parse_command(text);
  if (!parsed) {
    if (parsed.error().message.empty()) fail("an error without a message", text);
    return 0;
  }
  const annals::Command& cmd = *parsed;

  // Round trip of the envelope.
  const std::string written = annals::json::serialize(cmd.to_json());
  auto again = annals::parse_command(written);
  if (!again) fail("a parsed command does not parse again", written + " -> " + again.error().message);
  if (again->fingerprint() != cmd.fingerprint()) fail("the fingerprint changes on a round trip", written);
  if (again->idempotency_key != cmd.idempotency_key || again->metadata.principal != cmd.metadata.principal
      || again->metadata.correlation_id != cmd.metadata.correlation_id || again->command_id != cmd.command_id)
    fail("the envelope changes on a round trip", written);

  // Decode the data into the bank's commands and decide, on three states.
  for (const std::any* state : {&fresh, &funded, &closed}) {
    annals::Decision d = account.decide(*state, cmd);
    if (!d.accepted()) continue;
    // What an accepted command emits, the aggregate applies (as after the commit).
    std::any next = *state;
    std::int64_t version = 10;
    for (const auto& ne : d.events()) {
      annals::Event e;
      e.stream = cmd.stream();
      e.version = ++version;
      e.position = version;
      e.type = ne.type;
      e.schema_version = ne.schema_version;
      e.data = annals::json::parse(annals::json::serialize(ne.data));  // as stored: text
      account.evolve(next, e);
    }
  }
  return 0;
}
