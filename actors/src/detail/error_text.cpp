#include "error_text.hpp"

#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/exit_reason.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace annals::actors::detail {

namespace {

const char* system_code_text(caf::sec code) {
  switch (code) {
    case caf::sec::request_timeout: return "no answer within the time limit";
    case caf::sec::request_receiver_down: return "the part of the runtime that was asked has stopped";
    case caf::sec::unexpected_message:
    case caf::sec::unexpected_response: return "an internal message was not understood (a bug in annals: please report it)";
    case caf::sec::runtime_error: return "an internal failure";
    case caf::sec::bad_function_call: return "an internal call failed";
    default: return nullptr;
  }
}

const char* exit_code_text(caf::exit_reason code) {
  switch (code) {
    case caf::exit_reason::normal: return "stopped";
    case caf::exit_reason::unhandled_exception: return "stopped by an unexpected exception";
    case caf::exit_reason::user_shutdown: return "stopped: the runtime is shutting down";
    case caf::exit_reason::kill: return "killed";
    case caf::exit_reason::out_of_workers: return "stopped: no worker threads left";
    default: return nullptr;
  }
}

} // namespace

std::string error_text(caf::actor_system& sys, const caf::error& err) {
  if (!err) return "no error";
  // Every error annals makes carries its reason as one string.
  const auto& context = err.context();
  if (context.size() == 1 && context.match_element<std::string>(0)) return context.get_as<std::string>(0);
  const char* text = nullptr;
  if (err.category() == caf::atom("system")) text = system_code_text(static_cast<caf::sec>(err.code()));
  else if (err.category() == caf::atom("exit")) text = exit_code_text(static_cast<caf::exit_reason>(err.code()));
  return text ? std::string(text) : sys.render(err);
}

} // namespace annals::actors::detail
