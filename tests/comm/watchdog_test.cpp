// Watchdog without MPI: a fake clock drives check() deterministically; one test runs the real
// thread with a tiny timeout and waits (bounded) for it to fire.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "comm/watchdog.h"
#include "common/error.h"

namespace tessera {
namespace {

struct Recorder {
  std::mutex mutex;
  std::condition_variable cv;
  int calls = 0;
  int code = 0;
  std::string message;
  Watchdog::AbortFn fn() {
    return [this](int c, const std::string& m) {
      std::lock_guard<std::mutex> lock(mutex);
      ++calls;
      code = c;
      message = m;
      cv.notify_all();
    };
  }
};

struct FakeClock {
  int64_t ns = 0;
  Watchdog::ClockFn fn() {
    return [this] { return ns; };
  }
  void advance(double s) { ns += static_cast<int64_t>(s * 1e9); }
};

Watchdog::Options manual(FakeClock& clock, double timeout, double grace = -1) {
  Watchdog::Options o;
  o.timeout_s = timeout;
  o.grace_s = grace;
  o.start_thread = false;
  o.clock = clock.fn();
  o.host = "testhost";
  return o;
}

TEST(Watchdog, IdleNeverFires) {
  FakeClock clock;
  Recorder rec;
  Watchdog dog(0, manual(clock, 2.0), rec.fn());
  clock.advance(1000);
  EXPECT_FALSE(dog.check());
  EXPECT_EQ(rec.calls, 0);
}

// The trainer holds Phase::between for the whole loop: time outside every marked phase counts,
// and each inner phase's end restarts its clock, so a long run of short steps never fires.
TEST(Watchdog, BetweenPhasesTimesOutButEachInnerPhaseRestartsIt) {
  FakeClock clock;
  Recorder rec;
  Watchdog dog(1, manual(clock, 2.0), rec.fn());
  auto loop = dog.enter(Phase::between);
  for (int step = 0; step < 100; ++step) {  // control: 100 s of training in 1-s pieces
    dog.set_step(step);
    clock.advance(0.5);
    {
      auto s = dog.enter(Phase::forward);
      clock.advance(0.5);
    }
    EXPECT_FALSE(dog.check());
  }
  clock.advance(2.5);  // e.g. a stuck log write between two steps
  EXPECT_TRUE(dog.check());
  ASSERT_EQ(rec.calls, 1);
  EXPECT_NE(rec.message.find("phase between phases (step 99)"), std::string::npos) << rec.message;
  EXPECT_NE(rec.message.find("not inside a collective"), std::string::npos) << rec.message;
}

TEST(Watchdog, PhaseWithinTimeoutDoesNotFire) {
  FakeClock clock;
  Recorder rec;
  Watchdog dog(0, manual(clock, 2.0), rec.fn());
  for (int step = 0; step < 5; ++step) {
    dog.set_step(step);
    auto s = dog.enter(Phase::forward);
    clock.advance(1.9);
    EXPECT_FALSE(dog.check());
  }
  EXPECT_EQ(rec.calls, 0);
}

TEST(Watchdog, NonWaitingPhaseAbortsAtOnceNamingRankPhaseStep) {
  FakeClock clock;
  Recorder rec;
  Watchdog dog(3, manual(clock, 2.0), rec.fn());
  dog.set_step(17);
  auto s = dog.enter(Phase::backward);
  clock.advance(2.5);
  EXPECT_TRUE(dog.check());
  ASSERT_EQ(rec.calls, 1);
  EXPECT_EQ(rec.code, kWatchdogAbortCode);
  EXPECT_NE(rec.message.find("rank 3 (host testhost) stuck in phase backward (step 17) for 2.5 s"),
            std::string::npos)
      << rec.message;
  EXPECT_NE(rec.message.find("not inside a collective"), std::string::npos) << rec.message;
  clock.advance(100);
  dog.check();
  EXPECT_EQ(rec.calls, 1);  // aborts once
}

TEST(Watchdog, WaitingPhaseAbortsAfterGrace) {
  FakeClock clock;
  Recorder rec;
  Watchdog dog(1, manual(clock, 4.0, 1.0), rec.fn());
  dog.set_step(2);
  auto s = dog.enter(Phase::allreduce, 5);
  clock.advance(4.1);
  EXPECT_TRUE(dog.check());
  EXPECT_EQ(rec.calls, 0);  // reported, waiting for the grace
  clock.advance(0.5);
  dog.check();
  EXPECT_EQ(rec.calls, 0);
  clock.advance(0.6);
  dog.check();
  ASSERT_EQ(rec.calls, 1);
  EXPECT_NE(rec.message.find("rank 1 (host testhost) stuck in phase allreduce #5 (step 2)"),
            std::string::npos)
      << rec.message;
  EXPECT_NE(rec.message.find("grace period over"), std::string::npos) << rec.message;
}

TEST(Watchdog, ScopesRestoreOuterPhaseAndRestartItsClock) {
  FakeClock clock;
  Recorder rec;
  Watchdog dog(0, manual(clock, 2.0), rec.fn());
  auto outer = dog.enter(Phase::backward);
  clock.advance(1.5);
  {
    auto inner = dog.enter(Phase::allreduce, 0);
    EXPECT_EQ(dog.describe_current(), "phase allreduce #0");
    clock.advance(1.5);
    EXPECT_FALSE(dog.check());
  }
  EXPECT_EQ(dog.describe_current(), "phase backward");
  clock.advance(1.5);
  EXPECT_FALSE(dog.check());
  clock.advance(1.0);
  EXPECT_TRUE(dog.check());
  EXPECT_NE(rec.message.find("phase backward"), std::string::npos);
}

TEST(Watchdog, PerPhaseTimeouts) {
  FakeClock clock;
  Recorder rec;
  Watchdog dog(0, manual(clock, 2.0), rec.fn());
  dog.set_timeout(Phase::checkpoint, 60.0);
  dog.set_timeout(Phase::eval, 0.0);  // disabled
  {
    auto s = dog.enter(Phase::checkpoint);
    clock.advance(30);
    EXPECT_FALSE(dog.check());
  }
  {
    auto s = dog.enter(Phase::eval);
    clock.advance(1000);
    EXPECT_FALSE(dog.check());
  }
  EXPECT_EQ(rec.calls, 0);
  EXPECT_THROW(Watchdog(0, manual(clock, 0.0), rec.fn()), Error);
}

TEST(Watchdog, ThreadFiresOnARealHang) {
  Recorder rec;
  Watchdog::Options o;
  o.timeout_s = 0.2;
  o.host = "h";
  Watchdog dog(2, o, rec.fn());
  dog.set_step(4);
  auto s = dog.enter(Phase::data);
  std::unique_lock<std::mutex> lock(rec.mutex);
  // Bounded wait for the watchdog thread's abort call (the "hang" is this wait itself).
  ASSERT_TRUE(rec.cv.wait_for(lock, std::chrono::seconds(30), [&] { return rec.calls > 0; }));
  EXPECT_NE(rec.message.find("rank 2 (host h) stuck in phase data (step 4)"), std::string::npos)
      << rec.message;
}

}  // namespace
}  // namespace tessera
