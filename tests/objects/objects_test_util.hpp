// Helpers for the control/objects tests: load manifest text, pick out one object or error.
// Test code only.
#pragma once

#include <arpa/inet.h>

#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "control/objects/convert.hpp"
#include "control/objects/manifest.hpp"

namespace enidp::objects::testing {

// An IPv4 address in network byte order, as the models hold it.
inline uint32_t ip(const char* text) {
    in_addr a{};
    EXPECT_EQ(inet_pton(AF_INET, text, &a), 1) << text;
    return a.s_addr;
}

inline std::vector<Object> load(const std::string& text, const std::string& file = "test.yaml") {
    auto r = load_string(text, file);
    if (auto* e = std::get_if<Error>(&r)) {
        ADD_FAILURE() << "load failed: " << e->to_string();
        return {};
    }
    return std::get<std::vector<Object>>(r);
}

inline Object load_one(const std::string& text) {
    auto objects = load(text);
    EXPECT_EQ(objects.size(), 1u);
    return objects.empty() ? Object{} : objects.front();
}

// The model, failing the test (and returning a default) on an error.
template <class T>
T model_of(const std::string& text) {
    auto r = convert(load_one(text));
    if (auto* e = std::get_if<Error>(&r)) {
        ADD_FAILURE() << "convert failed: " << e->to_string();
        return T{};
    }
    const T* m = std::get_if<T>(&std::get<Model>(r));
    EXPECT_NE(m, nullptr) << "converted to another kind";
    return m ? *m : T{};
}

// The error text of loading and converting `text` as file "bad.yaml"; "" when it is accepted.
inline std::string error_of(const std::string& text) {
    auto loaded = load_string(text, "bad.yaml");
    if (auto* e = std::get_if<Error>(&loaded)) return e->to_string();
    for (const Object& o : std::get<std::vector<Object>>(loaded)) {
        auto r = convert(o);
        if (auto* e = std::get_if<Error>(&r)) return e->to_string();
    }
    return "";
}

}  // namespace enidp::objects::testing
