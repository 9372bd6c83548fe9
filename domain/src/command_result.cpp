#include "annals/command_result.hpp"

namespace annals {

const char* to_string(CommandStatus s) {
  switch (s) {
    case CommandStatus::accepted: return "accepted";
    case CommandStatus::rejected: return "rejected";
    case CommandStatus::failed: return "failed";
  }
  return "failed";
}

CommandResult CommandResult::accept(const StreamId& s, std::int64_t version, std::int64_t position,
                                    std::vector<Event> events) {
  CommandResult r;
  r.status = CommandStatus::accepted;
  r.aggregate = s.aggregate;
  r.id = s.id;
  r.version = version;
  r.position = position;
  r.events = std::move(events);
  return r;
}

CommandResult CommandResult::reject(const StreamId& s, Error e, std::int64_t version) {
  CommandResult r;
  r.status = CommandStatus::rejected;
  r.aggregate = s.aggregate;
  r.id = s.id;
  r.version = version;
  r.error = std::move(e);
  return r;
}

CommandResult CommandResult::fail(const StreamId& s, Error e, std::int64_t version) {
  CommandResult r = reject(s, std::move(e), version);
  r.status = CommandStatus::failed;
  return r;
}

json::object CommandResult::to_json() const {
  json::object o;
  o["status"] = to_string(status);
  o["aggregate"] = aggregate;
  o["id"] = id;
  o["version"] = version;
  o["position"] = position;
  json::array evs;
  evs.reserve(events.size());
  for (const auto& e : events) {
    json::object eo;
    eo["type"] = e.type;
    eo["version"] = e.version;
    eo["position"] = e.position;
    eo["data"] = e.data;
    evs.push_back(std::move(eo));
  }
  o["events"] = std::move(evs);
  o["replayed"] = replayed;
  if (error) o["error"] = json::object{{"code", error->code}, {"message", error->message}};
  return o;
}

Expected<CommandResult> CommandResult::from_json(const json::value& v) {
  auto bad = [](const std::string& what) {
    return Error{errc::internal_error, "stored command result is malformed: " + what};
  };
  try {
    const json::object& o = v.as_object();
    CommandResult r;
    auto st = o.at("status").as_string();
    if (st == "accepted") r.status = CommandStatus::accepted;
    else if (st == "rejected") r.status = CommandStatus::rejected;
    else if (st == "failed") r.status = CommandStatus::failed;
    else return bad("status '" + std::string(st) + "'");
    r.aggregate = std::string(o.at("aggregate").as_string());
    r.id = std::string(o.at("id").as_string());
    r.version = o.at("version").as_int64();
    r.position = o.at("position").as_int64();
    if (const auto* evs = o.if_contains("events")) {
      for (const auto& ev : evs->as_array()) {
        const auto& eo = ev.as_object();
        Event e;
        e.stream = {r.aggregate, r.id};
        e.type = std::string(eo.at("type").as_string());
        e.version = eo.at("version").as_int64();
        e.position = eo.at("position").as_int64();
        e.data = eo.at("data");
        r.events.push_back(std::move(e));
      }
    }
    if (const auto* rp = o.if_contains("replayed")) r.replayed = rp->as_bool();
    if (const auto* err = o.if_contains("error")) {
      const auto& eo = err->as_object();
      r.error = Error{std::string(eo.at("code").as_string()), std::string(eo.at("message").as_string())};
    }
    return r;
  } catch (const std::exception& e) {
    return bad(e.what());
  }
}

} // namespace annals
