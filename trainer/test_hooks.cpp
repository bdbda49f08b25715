#include "trainer/test_hooks.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <thread>
#include <fstream>
#include <cstdlib>
#include <vector>

#include "common/error.h"

namespace tessera {

struct TestHooks::Gate {
  std::mutex mu;
  std::condition_variable cv;
  int64_t done = -1;  // the last step training completed
};

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t at = s.find(sep, start);
    parts.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return parts;
    start = at + 1;
  }
}

int64_t parse_int(const std::string& text, const char* var, const char* form) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  TESSERA_CHECK(!text.empty() && end && *end == '\0' && errno == 0 && v >= 0,
                "{}='{}': expected {} (a non-negative integer where a number stands)", var, text,
                form);
  return v;
}

FaultPhase parse_phase(const std::string& s, const char* var, const char* form) {
  for (FaultPhase p : {FaultPhase::data, FaultPhase::forward, FaultPhase::backward,
                       FaultPhase::allreduce, FaultPhase::consensus, FaultPhase::validation,
                       FaultPhase::checkpoint, FaultPhase::logging}) {
    if (s == to_string(p)) return p;
  }
  TESSERA_THROW("{}: unknown phase '{}'; expected {}", var, s, form);
}

}  // namespace

const char* to_string(FaultPhase phase) {
  switch (phase) {
    case FaultPhase::data: return "data";
    case FaultPhase::forward: return "forward";
    case FaultPhase::backward: return "backward";
    case FaultPhase::allreduce: return "allreduce";
    case FaultPhase::consensus: return "consensus";
    case FaultPhase::validation: return "validation";
    case FaultPhase::checkpoint: return "checkpoint";
    case FaultPhase::logging: return "logging";
  }
  return "?";
}

TestHooks TestHooks::from_env(const std::function<const char*(const char*)>& getenv) {
  TestHooks h;
  auto get = [&](const char* name) -> std::string {
    const char* v = getenv(name);
    return v ? v : "";
  };
  if (const std::string v = get("TESSERA_TEST_STOP_AT_STEP"); !v.empty() && v != "-1") {
    h.stop_at_step = parse_int(v, "TESSERA_TEST_STOP_AT_STEP", "STEP");
  }
  if (const std::string v = get("TESSERA_TEST_KILL_IN_CHECKPOINT"); !v.empty()) {
    const auto parts = split(v, ':');
    const char* form = "PHASE or PHASE:STEP";
    TESSERA_CHECK(parts.size() <= 2 && !parts[0].empty(), "TESSERA_TEST_KILL_IN_CHECKPOINT='{}': expected {}", v, form);
    h.kill_in_checkpoint = parts[0];
    if (parts.size() == 2) {
      h.kill_in_checkpoint_step = parse_int(parts[1], "TESSERA_TEST_KILL_IN_CHECKPOINT", form);
    }
  }
  if (const std::string v = get("TESSERA_TEST_FAULT"); !v.empty()) {
    const char* var = "TESSERA_TEST_FAULT";
    const char* form =
        "ACTION:RANK:PHASE:STEP (ACTION kill|stall|nan, RANK a number or 'last', PHASE "
        "data|forward|backward|allreduce|consensus|validation|checkpoint|logging)";
    const auto parts = split(v, ':');
    TESSERA_CHECK(parts.size() == 4, "{}='{}': expected {}", var, v, form);
    if (parts[0] == "kill") {
      h.fault = Action::kill;
    } else if (parts[0] == "stall") {
      h.fault = Action::stall;
    } else if (parts[0] == "nan") {
      h.fault = Action::nan;
    } else {
      TESSERA_THROW("{}='{}': unknown action '{}'; expected {}", var, v, parts[0], form);
    }
    h.fault_rank = parts[1] == "last" ? -2 : static_cast<int>(parse_int(parts[1], var, form));
    h.fault_phase = parse_phase(parts[2], var, form);
    TESSERA_CHECK(h.fault != Action::nan || h.fault_phase == FaultPhase::data,
                  "{}='{}': action nan poisons a batch, so its phase must be data", var, v);
    h.fault_step = parse_int(parts[3], var, form);
  }
  h.sample_log = get("TESSERA_TEST_SAMPLE_LOG");
  if (const std::string v = get("TESSERA_TEST_HOLD_CHECKPOINT"); !v.empty()) {
    const char* var = "TESSERA_TEST_HOLD_CHECKPOINT";
    const char* form = "STEP:UNTIL_STEP (UNTIL_STEP > STEP)";
    const auto parts = split(v, ':');
    TESSERA_CHECK(parts.size() == 2, "{}='{}': expected {}", var, v, form);
    h.hold_checkpoint_step = parse_int(parts[0], var, form);
    h.hold_until_step = parse_int(parts[1], var, form);
    TESSERA_CHECK(h.hold_until_step > h.hold_checkpoint_step, "{}='{}': expected {}", var, v,
                  form);
    h.gate_ = std::make_shared<Gate>();
  }
  if (const std::string v = get("TESSERA_TEST_AWAIT_STOP"); !v.empty()) {
    h.await_stop_step = parse_int(v, "TESSERA_TEST_AWAIT_STOP", "STEP");
  }
  h.only_run = get("TESSERA_TEST_HOOKS_RUN");
  return h;
}

TestHooks TestHooks::for_run(const std::string& experiment_name) const {
  if (!only_run.empty() && only_run != experiment_name) return TestHooks{};
  return *this;
}

TestHooks TestHooks::from_env() {
  return from_env([](const char* name) { return std::getenv(name); });
}

void TestHooks::resolve_ranks(int size) {
  if (fault_rank == -2) fault_rank = size - 1;
  if (fault != Action::none) {
    TESSERA_CHECK(fault_rank >= 0 && fault_rank < size,
                  "TESSERA_TEST_FAULT: rank {} does not exist in a world of {} ranks", fault_rank,
                  size);
  }
}

void TestHooks::append_samples(int rank, int64_t epoch, int64_t step,
                               const std::vector<int64_t>& indices) const {
  const std::string path = fmt::format("{}.rank{}", sample_log, rank);
  std::ofstream out(path, std::ios::app);
  out << epoch << ' ' << step;
  for (int64_t i : indices) out << ' ' << i;
  out << '\n';
  out.flush();
  TESSERA_CHECK(out.good(), "TESSERA_TEST_SAMPLE_LOG: cannot append to {}", path);
}

void TestHooks::advance_gate(int64_t step) const {
  {
    std::lock_guard<std::mutex> lock(gate_->mu);
    gate_->done = step;
  }
  gate_->cv.notify_all();
}

void TestHooks::wait_gate(int64_t step) const {
  const std::string line =
      fmt::format("tessera test hook: the background write of step {} waits for step {}\n", step,
                  hold_until_step);
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
  std::unique_lock<std::mutex> lock(gate_->mu);
  const bool reached = gate_->cv.wait_for(lock, std::chrono::seconds(120), [&] {
    return gate_->done >= hold_until_step;
  });
  if (!reached) {
    spdlog::warn("TESSERA_TEST_HOLD_CHECKPOINT: step {} was not reached within 120 s; the "
                 "write of step {} goes on",
                 hold_until_step, step);
  }
}

void TestHooks::wait_for_stop(int64_t step, const std::function<bool()>& stop_requested) const {
  spdlog::default_logger()->flush();
  const double now = std::chrono::duration<double>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string line = fmt::format(
      "tessera test hook: rank 0 waits for a stop signal after step {} (unix time {:.3f})\n", step,
      now);
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!stop_requested()) {
    TESSERA_CHECK(std::chrono::steady_clock::now() < deadline,
                  "TESSERA_TEST_AWAIT_STOP={}: no stop signal came within 120 s", step);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polls a signal flag
  }
}

void TestHooks::fire(FaultPhase phase, int rank, int64_t step) const {
  spdlog::default_logger()->flush();
  const double now = std::chrono::duration<double>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string line = fmt::format(
      "tessera test hook: rank {} {} in phase {} at step {} (unix time {:.3f})\n", rank,
      fault == Action::kill ? "kills itself with SIGKILL" : "stalls", to_string(phase), step, now);
  // write(2): unbuffered, so the line is out before the signal.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
  if (fault == Action::kill) {
    std::raise(SIGKILL);
  }
  // stall: block this thread for good (the watchdog thread keeps running and ends the job).
  while (true) pause();
}

}  // namespace tessera
