#include "annals/scenarios/load_plan.hpp"

namespace annals::scenarios {

namespace {

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

std::string fill_string(const std::string& s, int i, int n) {
  return replace_all(replace_all(s, "{i}", std::to_string(i)), "{n}", std::to_string(n));
}

// A uniform integer in [0, bound) without modulo bias worth mentioning (bound << 2^64).
std::uint64_t below(std::uint64_t& state, std::uint64_t bound) { return bound == 0 ? 0 : splitmix64(state) % bound; }

PlannedCommand make(const LoadStep& step, const LoadCommand& lc, int i, int n, std::uint64_t& rng, bool setup,
                    const std::string& key_prefix) {
  PlannedCommand p;
  p.aggregate = i;
  p.setup = setup;
  p.command.aggregate = step.aggregate;
  p.command.id = fill_string(step.id, i, n);
  p.command.command = lc.command;
  auto data = fill_template(lc.data, i, n, rng);
  if (data.is_object()) p.command.data = std::move(data.as_object());
  if (step.idempotency_keys)
    p.command.idempotency_key = key_prefix + (setup ? "-setup-" + std::to_string(i) : "-" + std::to_string(n));
  return p;
}

} // namespace

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

json::value fill_template(const json::value& v, int i, int n, std::uint64_t& state) {
  if (v.is_string()) return json::value(fill_string(std::string(v.as_string()), i, n));
  if (v.is_array()) {
    json::array out;
    for (const auto& x : v.as_array()) out.push_back(fill_template(x, i, n, state));
    return out;
  }
  if (v.is_object()) {
    const auto& o = v.as_object();
    if (o.size() == 1 && o.contains("random") && o.at("random").is_array()) {
      const auto& r = o.at("random").as_array();
      const std::int64_t lo = r[0].as_int64(), hi = r[1].as_int64();
      const auto span = static_cast<std::uint64_t>(hi - lo) + 1;
      return json::value(lo + static_cast<std::int64_t>(span == 0 ? splitmix64(state) : splitmix64(state) % span));
    }
    json::object out;
    for (const auto& kv : o) out[kv.key()] = fill_template(kv.value(), i, n, state);
    return out;
  }
  return v;
}

LoadPlan plan_load(const LoadStep& step, const std::string& key_prefix) {
  LoadPlan plan;
  std::uint64_t rng = step.seed;
  if (step.setup)
    for (int i = 1; i <= step.aggregates; ++i) plan.setup.push_back(make(step, *step.setup, i, 0, rng, true, key_prefix));

  std::uint64_t total_weight = 0;
  for (const auto& c : step.mix) total_weight += static_cast<std::uint64_t>(c.weight);
  plan.commands.reserve(static_cast<std::size_t>(step.commands));
  for (int n = 1; n <= step.commands; ++n) {
    const int i = step.pick == "round_robin" ? (n - 1) % step.aggregates + 1
                                             : static_cast<int>(below(rng, static_cast<std::uint64_t>(step.aggregates))) + 1;
    std::uint64_t w = below(rng, total_weight);
    const LoadCommand* chosen = &step.mix.front();
    for (const auto& c : step.mix) {
      if (w < static_cast<std::uint64_t>(c.weight)) {
        chosen = &c;
        break;
      }
      w -= static_cast<std::uint64_t>(c.weight);
    }
    auto p = make(step, *chosen, i, n, rng, false, key_prefix);
    // Drawn for every command, so the retry choice never shifts the other draws.
    const double u = static_cast<double>(splitmix64(rng) >> 11) / static_cast<double>(1ull << 53);
    p.retried = u < step.retry_fraction;
    plan.commands.push_back(std::move(p));
  }
  return plan;
}

} // namespace annals::scenarios
