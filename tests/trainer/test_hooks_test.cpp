// TestHooks (trainer/test_hooks.h): the variables a test uses to place a stop signal exactly.
// TESSERA_TEST_AWAIT_STOP holds rank 0 after one step until a stop request; TESSERA_TEST_HOOKS_RUN
// limits every hook to one run of a sweep. (The 120 s limit is not waited for here.)
#include "trainer/test_hooks.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>

#include "common/error.h"

namespace tessera {
namespace {

TestHooks parse(const std::map<std::string, std::string>& env) {
  return TestHooks::from_env([&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

TEST(TestHooks, AwaitStopParsesAndMalformedValuesAreRefused) {
  EXPECT_EQ(parse({}).await_stop_step, -1);
  EXPECT_EQ(parse({{"TESSERA_TEST_AWAIT_STOP", "3"}}).await_stop_step, 3);
  try {
    parse({{"TESSERA_TEST_AWAIT_STOP", "3x"}});
    FAIL() << "a malformed TESSERA_TEST_AWAIT_STOP was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("TESSERA_TEST_AWAIT_STOP='3x'"), std::string::npos)
        << e.what();
  }
}

TEST(TestHooks, AwaitStopHoldsRankZeroAtItsStepUntilAStopIsRequested) {
  const TestHooks h = parse({{"TESSERA_TEST_AWAIT_STOP", "3"}});
  std::atomic<bool> stop{false};
  std::atomic<int> polls{0};
  auto requested = [&] {
    ++polls;
    return stop.load();
  };
  h.await_stop(0, 2, requested);  // another step: returns at once, never asks
  h.await_stop(1, 3, requested);  // another rank: the same
  EXPECT_EQ(polls.load(), 0);
  std::atomic<bool> returned{false};
  std::thread waiter([&] {
    h.await_stop(0, 3, requested);
    returned = true;
  });
  while (polls.load() < 3) std::this_thread::yield();  // it is polling, and still waits
  EXPECT_FALSE(returned.load());
  stop = true;
  waiter.join();
  EXPECT_TRUE(returned.load());
}

TEST(TestHooks, HooksRunLimitsEveryHookToTheNamedRun) {
  const TestHooks h = parse({{"TESSERA_TEST_AWAIT_STOP", "3"},
                             {"TESSERA_TEST_STOP_AT_STEP", "5"},
                             {"TESSERA_TEST_HOOKS_RUN", "sw-lr_0.001"}});
  const TestHooks mine = h.for_run("sw-lr_0.001");
  EXPECT_EQ(mine.await_stop_step, 3);
  EXPECT_EQ(mine.stop_at_step, 5);
  const TestHooks other = h.for_run("sw-lr_0.003");
  EXPECT_EQ(other.await_stop_step, -1);
  EXPECT_EQ(other.stop_at_step, -1);
  // Control: without TESSERA_TEST_HOOKS_RUN the hooks apply to every run.
  EXPECT_EQ(parse({{"TESSERA_TEST_AWAIT_STOP", "3"}}).for_run("anything").await_stop_step, 3);
}

}  // namespace
}  // namespace tessera
