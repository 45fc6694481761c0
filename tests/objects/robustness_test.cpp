// Mutated manifests (bytes flipped, dropped, duplicated; deterministic seed) through the
// loader, the converter and the store: every input must give objects or an Error, never an
// exception or a crash. A cheap stand-in for a libFuzzer target, run in the unit suite (and
// under ASan/UBSan builds).
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "control/objects/store.hpp"

namespace enidp::objects {
namespace {

std::vector<std::string> seeds() {
    std::vector<std::string> out;
    for (const auto& entry : std::filesystem::directory_iterator(std::string(ENIDP_SOURCE_DIR) + "/deploy/examples")) {
        std::ifstream in(entry.path());
        std::ostringstream text;
        text << in.rdbuf();
        out.push_back(text.str());
    }
    out.push_back(R"({"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "Pod",
      "metadata": {"name": "p", "labels": {"a": "b"}}, "status": {"podIPs": [{"ip": "10.0.0.1"}]},
      "spec": {"containers": [{"ports": [{"containerPort": 80, "name": "http"}]}]}}]})");
    out.push_back("apiVersion: v1\nkind: Namespace\nmetadata: {name: n, labels: {a: b}}\n");
    return out;
}

std::string mutate(std::string text, std::mt19937& rng) {
    static const std::string kBytes = "{}[]:,-'\"\n #&*!|>%@`0123456789./\\~aZ\t";
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < edits && !text.empty(); ++i) {
        const size_t at = rng() % text.size();
        switch (rng() % 4) {
            case 0: text[at] = kBytes[rng() % kBytes.size()]; break;
            case 1: text.erase(at, 1 + rng() % 8); break;
            case 2: text.insert(at, text.substr(rng() % text.size(), 1 + rng() % 16)); break;
            default: text[at] = static_cast<char>(rng() % 256); break;
        }
    }
    return text;
}

TEST(Robustness, MutatedManifestsNeverThrow) {
    std::mt19937 rng(20261202);
    const std::vector<std::string> inputs = seeds();
    size_t loaded = 0;
    size_t converted = 0;
    for (int round = 0; round < 3000; ++round) {
        const std::string text = mutate(inputs[static_cast<size_t>(round) % inputs.size()], rng);
        Result<std::vector<Object>> r = load_string(text, "fuzz.yaml");
        if (const auto* e = std::get_if<Error>(&r)) {
            EXPECT_FALSE(e->to_string().empty());
            continue;
        }
        ++loaded;
        Store store;
        for (const Object& o : std::get<std::vector<Object>>(r)) {
            converted += std::holds_alternative<Model>(convert(o)) ? 1 : 0;
            (void)ignore_reason(o);
            (void)store.apply(o, Source::kManifest);
        }
        (void)store.snapshot();
    }
    // The mutations must leave enough valid input to reach the converter.
    EXPECT_GT(loaded, 300u);
    EXPECT_GT(converted, 100u);
}

}  // namespace
}  // namespace enidp::objects
