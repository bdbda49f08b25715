#include "checkpoints/async_saver.h"

#include <spdlog/spdlog.h>

#include <utility>

namespace tessera::checkpoints {

AsyncSaver::~AsyncSaver() {
  join();
  if (error_) {
    try {
      std::rethrow_exception(error_);
    } catch (const std::exception& e) {
      spdlog::error("background checkpoint write failed: {}", e.what());
    }
  }
}

void AsyncSaver::join() {
  if (thread_.joinable()) thread_.join();
  in_flight_step_.store(-1);
}

std::string AsyncSaver::wait() {
  join();
  if (error_) {
    failed_.store(false);
    std::rethrow_exception(std::exchange(error_, nullptr));
  }
  return published_;
}

void AsyncSaver::check() {
  if (failed_.load()) wait();  // the job has ended (failed_ is its last write): a short join
}

void AsyncSaver::start(std::int64_t step, std::function<std::string()> job) {
  wait();
  in_flight_step_.store(step);
  thread_ = std::thread([this, job = std::move(job)] {
    try {
      published_ = job();
    } catch (...) {
      error_ = std::current_exception();
      failed_.store(true);
    }
  });
}

void AsyncSaver::save(CheckpointData data, std::optional<double> metric) {
  const std::int64_t step = data.step;
  start(step, [this, data = std::move(data), metric] { return store_.save(data, metric); });
}

void AsyncSaver::record_metric(std::int64_t step, double metric) {
  start(step, [this, step, metric] { return store_.record_metric(step, metric); });
}

}  // namespace tessera::checkpoints
