// The store tools: events, streams, projections, dead-letters, rebuild,
// reconcile (docs/cli.md), and what they share.
#include "store_tools.hpp"

#include "annals/persistence/memory_event_store.hpp"
#include "annals/persistence/sqlite_event_store.hpp"
#include "annals/persistence/store_error.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <system_error>
#include <thread>

namespace annals::cli {

void add_store_tools(CLI::App& app, Context& ctx) {
  add_event_tools(app, ctx);
  add_projection_tools(app, ctx);
}

namespace tools {

void run_tool(Context& ctx, const std::function<int()>& body) {
  try {
    ctx.exit_code = body();
  } catch (const ToolError& e) {
    ctx.fail(e.code(), e.what());
  } catch (const StoreError& e) {
    ctx.fail(exit_store, e.what());
  } catch (const std::exception& e) {
    ctx.fail(exit_failed, e.what());
  }
}

namespace {

void check_domains(const Context& ctx, const StoreSelection& sel) {
  if (auto problem = ctx.catalog.unknown(sel.domains); !problem.empty()) throw ToolError(exit_usage, problem);
}

// Display width of UTF-8 text: code points, not bytes.
std::size_t text_width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

} // namespace

std::shared_ptr<EventStoreProvider> open_store(const Context& ctx, const StoreSelection& sel, Access access) {
  check_domains(ctx, sel);
  if (sel.memory) return memory_store();
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto status = fs::status(sel.path, ec);
  if (!fs::exists(status))
    throw ToolError(exit_store, "no store at '" + sel.path + "' (the store tools never create one; `annals run` does)");
  if (fs::is_directory(status)) throw ToolError(exit_store, "'" + sel.path + "' is a directory, not a store file");
  // Identify the file over a read-only connection first: a tool that writes
  // must not initialize an empty file or migrate an older store either.
  SqliteStoreOptions probe;
  probe.path = sel.path;
  probe.read_only = true;
  open_sqlite_store(probe);
  SqliteStoreOptions o;
  o.path = sel.path;
  // A store we cannot write opens read-only for a tool that writes too:
  // SQLite's own fallback would leave -wal and -shm files behind, and the
  // write the tool needs fails with the reason either way.
  o.read_only = access == Access::read_only || !unwritable(sel).empty();
  return sqlite_store(o);
}

std::string unwritable(const StoreSelection& sel) {
  return sel.memory ? std::string() : sqlite_unwritable_reason(sel.path);
}

StoreLock own_store(const Context& ctx, const StoreSelection& sel) {
  open_store(ctx, sel, Access::read_only);  // exists, is an annals store: nothing created before that
  if (sel.memory || !unwritable(sel).empty()) return {};
  return StoreLock::acquire(sel.path, StoreLockMode::exclusive);
}

// An integer >= min, with a message that says so (CLI11's ranges print doubles).
CLI::Validator at_least(std::int64_t min) {
  return CLI::Validator(
    [min](std::string& s) -> std::string {
      std::size_t used = 0;
      long long v = 0;
      try {
        v = std::stoll(s, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != s.size() || s.empty() || v < min)
        return "expected an integer >= " + std::to_string(min) + ", got '" + s + "'";
      return {};
    },
    "");
}

void add_log_level_option(CLI::App& sub, std::string& level) {
  level = "warn";
  sub.add_option("--log-level", level,
                 "runtime log records at this level and above go to stderr (projector crashes are warn, "
                 "parked events error)")
    ->check(CLI::IsMember({"debug", "info", "warn", "error", "off"}))
    ->type_name("LEVEL")
    ->capture_default_str();
}

std::unique_ptr<Runtime> start_runtime(Context& ctx, const StoreSelection& sel, Access access,
                                       const std::string& log_level) {
  RuntimeOptions o;
  o.store = open_store(ctx, sel, access);
  o.audit = false;  // the tools send no commands
  o.log.level = log_level_from_string(log_level).value_or(LogLevel::warn);
  auto mtx = std::make_shared<std::mutex>();
  std::ostream* err = &ctx.err;
  o.log.sink = [mtx, err](const LogRecord& r) {
    std::lock_guard<std::mutex> lock(*mtx);
    *err << Logger::format_text(r) << "\n";
    err->flush();
  };
  auto rt = std::make_unique<Runtime>(std::move(o));
  ctx.catalog.install(*rt, sel.domains);
  return rt;
}

std::vector<std::string> catalog_projections(Context& ctx, const StoreSelection& sel) {
  check_domains(ctx, sel);
  RuntimeOptions o;
  o.store = memory_store();
  o.audit = false;
  o.log.level = LogLevel::off;
  Runtime rt(std::move(o));
  ctx.catalog.install(rt, sel.domains);
  auto names = rt.projection_names();
  std::sort(names.begin(), names.end());
  return names;
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

void require_projection(Runtime& rt, const std::string& projection) {
  auto names = rt.projection_names();
  if (std::find(names.begin(), names.end(), projection) != names.end()) return;
  std::sort(names.begin(), names.end());
  throw ToolError(exit_usage, "unknown projection '" + projection + "' (known: "
                                + (names.empty() ? std::string("none") : join(names)) + ")");
}

WaitResult wait_caught_up(Context& ctx, Runtime& rt, const std::vector<std::string>& projections,
                          std::int64_t target, std::chrono::duration<double> timeout) {
  const auto until = std::chrono::steady_clock::now()
                     + std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
  for (;;) {
    bool all = true;
    for (const auto& p : projections) {
      auto st = rt.projection_status(p);
      if (!st || !st->running || st->checkpoint < target) {
        all = false;
        break;
      }
    }
    if (all) return WaitResult::caught_up;
    if (ctx.stop_requested()) return WaitResult::interrupted;
    if (std::chrono::steady_clock::now() >= until) return WaitResult::timed_out;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string lagging(Runtime& rt, const std::vector<std::string>& projections, std::int64_t target) {
  std::string out;
  for (const auto& p : projections) {
    auto st = rt.projection_status(p);
    std::string line;
    if (!st) {
      line = "projection '" + p + "': " + st.error().message;
    } else if (!st->running || st->checkpoint < target) {
      line = "projection '" + p + "' is at position " + std::to_string(st->checkpoint) + " of "
             + std::to_string(target) + (st->running ? "" : " (restarting)");
      if (st->last_error) line += " (last error: " + *st->last_error + ")";
    }
    if (!line.empty()) out += (out.empty() ? "" : "; ") + line;
  }
  return out;
}

void print_json_line(std::ostream& out, const json::value& v) { out << json::serialize(v) << '\n'; }

std::string short_time(std::int64_t us) {
  std::string s = format_timestamp(us);  // 2026-11-24T10:00:00.123456Z
  if (s.size() == 27) s = s.substr(0, 23) + "Z";
  return s;
}

Table::Table(std::vector<std::string> headers, std::string right)
  : headers_(std::move(headers)), right_(std::move(right)) {
  widths_.assign(std::max(headers_.size(), right_.size()), 0);
  for (std::size_t i = 0; i < headers_.size(); ++i) widths_[i] = text_width(headers_[i]);
}

void Table::add(std::vector<std::string> row) {
  for (auto& cell : row) cell = one_line(std::move(cell));
  if (row.size() > widths_.size()) widths_.resize(row.size(), 0);
  for (std::size_t i = 0; i < row.size(); ++i) widths_[i] = std::max(widths_[i], text_width(row[i]));
  rows_.push_back(std::move(row));
}

void Table::print(std::ostream& out) {
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const bool last = i + 1 == cells.size();
      const std::size_t pad = widths_[i] - std::min(widths_[i], text_width(cells[i]));
      const bool right = i < right_.size() && right_[i] == 'r';
      if (i > 0) s += "  ";
      if (right) s.append(pad, ' ');
      s += cells[i];
      if (!right && !last) s.append(pad, ' ');
    }
    out << s << '\n';
  };
  if (rows_.empty()) return;
  if (!header_done_ && !headers_.empty()) line(headers_);
  header_done_ = true;
  for (const auto& r : rows_) line(r);
  rows_.clear();
}

} // namespace tools
} // namespace annals::cli
