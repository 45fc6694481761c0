// ControlQueue: see control_queue.hpp.
#include "control/api/control_queue.hpp"

namespace enidp::api {

bool ControlQueue::push(const std::shared_ptr<Task>& task) {
    {
        std::lock_guard lock(mu_);
        if (closed_) return false;
        tasks_.push_back(task);
        woken_ = true;
    }
    cv_.notify_one();
    return true;
}

bool ControlQueue::cancel(const std::shared_ptr<Task>& task) {
    std::lock_guard lock(mu_);
    if (task->started) return false;
    task->cancelled = true;
    return true;
}

void ControlQueue::notify() {
    {
        std::lock_guard lock(mu_);
        woken_ = true;
    }
    cv_.notify_one();
}

void ControlQueue::wait_until(Clock::time_point deadline) {
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, deadline, [&] { return woken_ || closed_; });
    woken_ = false;
}

size_t ControlQueue::run_pending() {
    size_t ran = 0;
    for (;;) {
        std::shared_ptr<Task> task;
        {
            std::lock_guard lock(mu_);
            if (tasks_.empty()) break;
            task = std::move(tasks_.front());
            tasks_.pop_front();
            if (task->cancelled) continue;
            task->started = true;
            // Written before the promise is set (below), read by the caller after the future is
            // ready: the promise/future pair orders the two.
            task->done = true;
        }
        task->run();
        ran++;
    }
    return ran;
}

void ControlQueue::close() {
    std::deque<std::shared_ptr<Task>> dropped;
    {
        std::lock_guard lock(mu_);
        closed_ = true;
        dropped.swap(tasks_);
        for (auto& t : dropped) {
            t->started = true;  // not cancellable any more: they never run
            // Destroying the function destroys the promise it holds: the caller's future
            // becomes ready (broken_promise) and, `done` being false, it reports kClosed.
            t->run = nullptr;
        }
    }
    cv_.notify_all();
}

size_t ControlQueue::pending() const {
    std::lock_guard lock(mu_);
    return tasks_.size();
}

}  // namespace enidp::api
