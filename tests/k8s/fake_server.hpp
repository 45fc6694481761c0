// Test helper: runs tests/k8s/fake_apiserver.py as a child process and drives its /_test/
// control endpoints. For the k8s gtests only (single test thread).
//
// Paths come from the environment meson sets: ENIDP_PYTHON, ENIDP_FAKE_APISERVER,
// ENIDP_K8S_TESTDATA.
#pragma once

#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

extern char** environ;

namespace enidp::k8s::testing {

inline std::string env_or(const char* name, const std::string& fallback) {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0' ? v : fallback;
}

inline std::string testdata(const std::string& file) {
    return env_or("ENIDP_K8S_TESTDATA", "tests/k8s/testdata") + "/" + file;
}

class FakeApiServer {
public:
    // args: the server's options and manifests (without --port).
    explicit FakeApiServer(std::vector<std::string> args) : args_(std::move(args)) { start(0); }
    ~FakeApiServer() { kill(); }
    FakeApiServer(const FakeApiServer&) = delete;
    FakeApiServer& operator=(const FakeApiServer&) = delete;

    // Starts the server on port (0 = any; the port is kept for restarts).
    void start(int port) {
        std::vector<std::string> argv = {env_or("ENIDP_PYTHON", "python3"),
                                         env_or("ENIDP_FAKE_APISERVER", "tests/k8s/fake_apiserver.py"), "--port",
                                         std::to_string(port)};
        argv.insert(argv.end(), args_.begin(), args_.end());
        std::vector<char*> cargv;
        for (auto& a : argv) cargv.push_back(a.data());
        cargv.push_back(nullptr);
        int out[2];
        if (pipe(out) != 0) throw std::runtime_error("pipe");
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_addclose(&fa, out[0]);
        posix_spawnp_or_throw(fa, cargv);
        posix_spawn_file_actions_destroy(&fa);
        close(out[1]);
        // Wait for "PORT <n>\n" (the server binds before printing it).
        std::string line;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
            pollfd p{out[0], POLLIN, 0};
            if (poll(&p, 1, 100) <= 0) continue;
            char buf[128];
            const ssize_t n = read(out[0], buf, sizeof buf);
            if (n <= 0) break;
            line.append(buf, static_cast<size_t>(n));
        }
        close(out[0]);
        if (line.rfind("PORT ", 0) != 0) throw std::runtime_error("fake apiserver did not start: " + line);
        port_ = std::stoi(line.substr(5));
    }

    // SIGKILL, as a crash: open watches see their connection reset.
    void kill() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

    void restart() {
        kill();
        // The kernel may need a moment before the same port can be bound again.
        for (int i = 0;; ++i) {
            try {
                start(port_);
                return;
            } catch (const std::runtime_error&) {
                if (i == 20) throw;
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
        }
    }

    int port() const { return port_; }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

    nlohmann::json post(const std::string& path, const std::string& body = "") { return request(path, body, true); }
    nlohmann::json state() { return request("/_test/state", "", false); }
    std::string rv() { return state()["resourceVersion"].get<std::string>(); }

private:
    void posix_spawnp_or_throw(const posix_spawn_file_actions_t& fa, std::vector<char*>& argv) {
        if (posix_spawnp(&pid_, argv[0], &fa, nullptr, argv.data(), environ) != 0) {
            throw std::runtime_error(std::string("cannot run ") + argv[0]);
        }
    }

    static size_t collect(char* d, size_t s, size_t n, void* user) {
        static_cast<std::string*>(user)->append(d, s * n);
        return s * n;
    }

    nlohmann::json request(const std::string& path, const std::string& body, bool is_post) {
        CURL* c = curl_easy_init();
        std::string out;
        const std::string u = url() + path;
        curl_easy_setopt(c, CURLOPT_URL, u.c_str());
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
        if (is_post) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
        }
        const CURLcode rc = curl_easy_perform(c);
        curl_easy_cleanup(c);
        if (rc != CURLE_OK) throw std::runtime_error("fake apiserver " + path + ": " + curl_easy_strerror(rc));
        return nlohmann::json::parse(out, nullptr, false);
    }

    std::vector<std::string> args_;
    pid_t pid_ = -1;
    int port_ = 0;
};

}  // namespace enidp::k8s::testing
