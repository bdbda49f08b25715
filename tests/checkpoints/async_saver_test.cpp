// AsyncSaver (checkpoint.async): the write runs on another thread and the caller goes on before
// it is published; errors come back on the caller's thread; jobs publish in order; the destructor
// finishes the write in flight.
#include "checkpoints/async_saver.h"
#include "tests/checkpoints/store_fixtures.h"
#include "tests/checkpoints/test_util.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

namespace tessera::checkpoints {
namespace {

using testing::make_data;
using testing::TempDir;

// A latch the test opens; the store's phase hook waits on it (bounded) at "begin".
struct Latch {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  void release() {
    {
      std::lock_guard<std::mutex> lock(mu);
      open = true;
    }
    cv.notify_all();
  }
  bool wait() {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(30), [&] { return open; });
  }
};

void expect_same_files(const CheckpointData& got, const CheckpointData& want) {
  ASSERT_EQ(got.files.size(), want.files.size());
  for (const auto& [name, bytes] : want.files) EXPECT_EQ(got.file(name), bytes) << name;
}

TEST(AsyncSaver, SaveReturnsBeforeThePublishAndWaitPublishes) {
  TempDir tmp;
  CheckpointStore store(tmp.path());
  CheckpointStore reader(tmp.path());
  Latch latch;
  std::thread::id writer_thread;
  bool latch_opened = false;
  store.set_phase_hook([&](const char* phase) {
    if (std::string(phase) != "begin") return;
    writer_thread = std::this_thread::get_id();
    latch_opened = latch.wait();
  });
  AsyncSaver saver(store);
  saver.save(make_data(5), std::nullopt);  // returns while the write is held at "begin"
  EXPECT_EQ(saver.step_in_flight(), 5);
  EXPECT_FALSE(reader.pointer("latest").has_value()) << "published before the write was released";
  latch.release();
  const std::string dir = saver.wait();
  EXPECT_TRUE(latch_opened);
  EXPECT_EQ(std::filesystem::path(dir).filename(), "step-0000005");
  EXPECT_EQ(saver.step_in_flight(), -1);
  EXPECT_NE(writer_thread, std::this_thread::get_id()) << "the write ran on the caller's thread";
  expect_same_files(reader.load("latest"), make_data(5));
}

// Control for the thread check above: a synchronous save runs the hook on the caller's thread.
TEST(AsyncSaver, ControlASynchronousSaveRunsOnTheCallersThread) {
  TempDir tmp;
  CheckpointStore store(tmp.path());
  std::thread::id writer_thread;
  store.set_phase_hook([&](const char* phase) {
    if (std::string(phase) == "begin") writer_thread = std::this_thread::get_id();
  });
  store.save(make_data(5));
  EXPECT_EQ(writer_thread, std::this_thread::get_id());
}

TEST(AsyncSaver, AFailedWriteIsRethrownOnTheCallersThreadOnce) {
  TempDir tmp;
  const std::string not_a_dir = tmp / "file";
  std::ofstream(not_a_dir) << "x";  // the run directory is a regular file: no checkpoints/ in it
  CheckpointStore store(not_a_dir);
  AsyncSaver saver(store);
  saver.save(make_data(3), std::nullopt);  // does not throw: the failure is in the background
  // check() never waits: poll it (bounded) until the job has failed.
  std::string error;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (error.empty() && std::chrono::steady_clock::now() < until) {
    error = testing::error_of([&] { saver.check(); });
    if (error == "<no error>") error.clear();
    std::this_thread::yield();
  }
  EXPECT_NE(error.find(not_a_dir), std::string::npos) << error;
  EXPECT_NO_THROW(saver.wait()) << "the error was reported twice";
  // A later save into a usable store works again.
  CheckpointStore good(tmp / "run");
  AsyncSaver second(good);
  second.save(make_data(4), std::nullopt);
  EXPECT_NE(second.wait().find("step-0000004"), std::string::npos);
}

TEST(AsyncSaver, JobsPublishInOrderAndAMetricFollowsItsSave) {
  TempDir tmp;
  CheckpointStore store(tmp.path(), /*keep_last=*/0, /*keep_best=*/1, "max");
  AsyncSaver saver(store);
  saver.save(make_data(2), 0.5);
  saver.save(make_data(4), std::nullopt);  // waits for step 2's write first
  saver.record_metric(4, 0.9);             // runs after step 4 is published
  saver.wait();
  CheckpointStore reader(tmp.path());
  EXPECT_EQ(std::filesystem::path(*reader.pointer("latest")).filename(), "step-0000004");
  EXPECT_EQ(std::filesystem::path(*reader.pointer("best")).filename(), "step-0000004");
  const CheckpointData best = reader.load("best");
  ASSERT_TRUE(best.metric.has_value());
  EXPECT_EQ(*best.metric, 0.9);
  expect_same_files(reader.load(reader.list().front()), make_data(2));
}

TEST(AsyncSaver, TheDestructorFinishesTheWriteInFlight) {
  TempDir tmp;
  {
    CheckpointStore store(tmp.path());
    AsyncSaver saver(store);
    saver.save(make_data(7), std::nullopt);
  }
  CheckpointStore reader(tmp.path());
  expect_same_files(reader.load("latest"), make_data(7));
}

}  // namespace
}  // namespace tessera::checkpoints
