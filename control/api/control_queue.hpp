// ControlQueue: hands work from gRPC threads to the daemon's control thread, which alone may
// touch the Dataplane, and wakes the control loop when there is something to do.
//
// Who may call: call() and notify() from any thread (gRPC handlers, Store listeners);
// wait_until(), run_pending() and close() from the control thread only. call() blocks its
// caller until the control thread has run the task, the timeout passes (the task is then
// skipped if it has not started) or the queue is closed.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>

namespace enidp::api {

// kFailed: the task threw (the control loop goes on; the caller reports an internal error).
enum class CallStatus { kOk, kTimeout, kClosed, kFailed };

class ControlQueue {
public:
    using Clock = std::chrono::steady_clock;

    // Runs `fn` on the control thread and returns its result. kTimeout: the control thread
    // did not get to it in time (the task will not run); kClosed: the daemon is stopping.
    template <class T>
    CallStatus call(std::function<T()> fn, std::chrono::milliseconds timeout, T& out) {
        auto promise = std::make_shared<std::promise<T>>();
        std::future<T> result = promise->get_future();
        auto task = std::make_shared<Task>();
        // The task holds the only reference to the promise: dropping the task breaks it.
        task->run = [promise = std::move(promise), fn = std::move(fn)] {
            try {
                promise->set_value(fn());
            } catch (...) {
                promise->set_exception(std::current_exception());
            }
        };
        if (!push(task)) return CallStatus::kClosed;
        if (result.wait_for(timeout) != std::future_status::ready) {
            if (cancel(task)) return CallStatus::kTimeout;
            result.wait();  // it started: it finishes soon
        }
        // A task dropped by close() breaks its promise.
        if (!task->done) return CallStatus::kClosed;
        try {
            out = result.get();
        } catch (...) {
            return CallStatus::kFailed;
        }
        return CallStatus::kOk;
    }

    // Wakes wait_until() (e.g. the store changed).
    void notify();

    // Blocks until a task is queued, notify() is called, close() was called or `deadline`
    // passes. Returns at once when something arrived since the last wait.
    void wait_until(Clock::time_point deadline);

    // Runs every queued task, in order. Returns how many ran.
    size_t run_pending();

    // Refuses new tasks and drops the queued ones (their callers get kClosed).
    void close();

    size_t pending() const;

private:
    struct Task {
        std::function<void()> run;
        bool started = false;  // guarded by mu_
        bool cancelled = false;
        bool done = false;  // set by the control thread before the promise is fulfilled
    };
    bool push(const std::shared_ptr<Task>& task);
    // True when the task had not started; it will not run.
    bool cancel(const std::shared_ptr<Task>& task);

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::shared_ptr<Task>> tasks_;
    bool woken_ = false;
    bool closed_ = false;
};

}  // namespace enidp::api
