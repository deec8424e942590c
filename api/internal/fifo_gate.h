#pragma once
// A counting semaphore that admits waiters strictly in arrival order. The service runs one
// thread per keep-alive connection; left to the scheduler, dozens of runnable threads doing
// CPU-bound work (ECDSA verification) finish in an arbitrary order, which stretches the latency
// tail. Passing that work through a gate as wide as the number of cores keeps the run queue
// short and serves requests first come, first served. Thread-safe.
#include <cstddef>
#include <deque>
#include <mutex>
#include <semaphore>

namespace lk::api::internal {

class FifoGate {
 public:
  explicit FifoGate(size_t width) : free_(width == 0 ? 1 : width) {}
  FifoGate(const FifoGate&) = delete;
  FifoGate& operator=(const FifoGate&) = delete;

  // Blocks until admitted; every Enter needs one Leave (use Pass).
  void Enter() {
    // Per thread, so it outlives any Leave still inside release() (no destruction race).
    thread_local std::binary_semaphore wake(0);
    {
      std::lock_guard lock(mu_);
      if (free_ > 0 && waiters_.empty()) {
        --free_;
        return;
      }
      waiters_.push_back(&wake);
    }
    wake.acquire();  // the slot was handed over by Leave
  }
  void Leave() {
    std::binary_semaphore* next = nullptr;
    {
      std::lock_guard lock(mu_);
      if (waiters_.empty()) {
        ++free_;
        return;
      }
      next = waiters_.front();
      waiters_.pop_front();
    }
    next->release();
  }

  // Holds a slot for its lifetime.
  class Pass {
   public:
    explicit Pass(FifoGate& gate) : gate_(gate) { gate_.Enter(); }
    ~Pass() { gate_.Leave(); }
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;

   private:
    FifoGate& gate_;
  };

 private:
  std::mutex mu_;
  size_t free_;
  std::deque<std::binary_semaphore*> waiters_;
};

}  // namespace lk::api::internal
