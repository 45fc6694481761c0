// Connection settings: kubeconfig parsing, in-cluster service account, flags, token files.
#include <unistd.h>
#include <cstdlib>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "control/k8s/auth.hpp"

namespace enidp::k8s {
namespace {

namespace fs = std::filesystem;

class AuthTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("enidp-k8s-auth-" + std::to_string(getpid()));
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string write(const std::string& name, const std::string& text) {
        const auto p = dir_ / name;
        std::ofstream(p) << text;
        return p.string();
    }
    static std::string error_of(const Result<ConnectionSettings>& r) {
        return ok(r) ? "(no error)" : std::get<Error>(r).message;
    }
    fs::path dir_;
};

// "-----BEGIN CERTIFICATE-----\nfake\n" in base64.
const std::string kCaData = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmZha2UK";

std::string kubeconfig(const std::string& user_block, const std::string& cluster_extra = "") {
    return R"(apiVersion: v1
kind: Config
current-context: prod
contexts:
  - name: prod
    context: {cluster: c1, user: u1, namespace: shop}
  - name: other
    context: {cluster: c2, user: u2}
clusters:
  - name: c1
    cluster:
      server: https://10.0.0.1:6443/
      certificate-authority-data: )" +
           kCaData + "\n" + cluster_extra + R"(
  - name: c2
    cluster:
      server: https://other:6443
      insecure-skip-tls-verify: true
users:
  - name: u1
    user:
)" + user_block +
           R"(
  - name: u2
    user: {token: other-token}
)";
}

TEST_F(AuthTest, KubeconfigTokenAndCaData) {
    auto r = from_kubeconfig_string(kubeconfig("      token: abc.def"), "test", dir_.string());
    ASSERT_TRUE(ok(r)) << error_of(r);
    const auto& s = std::get<ConnectionSettings>(r);
    EXPECT_EQ(s.server, "https://10.0.0.1:6443");
    EXPECT_EQ(s.ca_pem, "-----BEGIN CERTIFICATE-----\nfake\n");
    EXPECT_FALSE(s.insecure_skip_tls_verify);
    EXPECT_EQ(s.token->current(), "abc.def");
    EXPECT_EQ(s.default_namespace, "shop");
}

TEST_F(AuthTest, KubeconfigOtherContextInsecure) {
    auto r = from_kubeconfig_string(kubeconfig("      token: abc"), "test", dir_.string(), "other");
    ASSERT_TRUE(ok(r)) << error_of(r);
    const auto& s = std::get<ConnectionSettings>(r);
    EXPECT_EQ(s.server, "https://other:6443");
    EXPECT_TRUE(s.insecure_skip_tls_verify);
    EXPECT_EQ(s.token->current(), "other-token");
}

TEST_F(AuthTest, KubeconfigRelativeFilesAndClientCertData) {
    write("ca.crt", "CA");
    write("token", "from-file\n");
    const std::string path = write("config", kubeconfig("      tokenFile: token\n"
                                                        "      client-certificate-data: " +
                                                            kCaData +
                                                            "\n"
                                                            "      client-key-data: " +
                                                            kCaData,
                                                        "      certificate-authority: ca.crt"));
    auto r = from_kubeconfig(path);
    ASSERT_TRUE(ok(r)) << error_of(r);
    const auto& s = std::get<ConnectionSettings>(r);
    EXPECT_EQ(s.ca_file, (dir_ / "ca.crt").string()) << "relative to the kubeconfig's folder";
    EXPECT_EQ(s.token->current(), "from-file");
    EXPECT_EQ(s.token->file(), (dir_ / "token").string());
    EXPECT_EQ(s.client_cert_pem, "-----BEGIN CERTIFICATE-----\nfake\n");
    EXPECT_FALSE(s.client_key_pem.empty());
}

TEST_F(AuthTest, KubeconfigErrorsSayWhatIsWrong) {
    struct Case {
        std::string yaml, context, expect;
    };
    const Case cases[] = {
        {kubeconfig("      token: x"), "nope", "context \"nope\" is not in contexts"},
        {"apiVersion: v1\nkind: Config\n", "", "no current-context"},
        {"current-context: a\ncontexts: [{name: a, context: {cluster: gone, user: u}}]\n", "",
         "cluster \"gone\", which is not in clusters"},
        {"current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
         "clusters: [{name: c, cluster: {certificate-authority-data: abc}}]\n",
         "", "cluster \"c\" has no server"},
        {"current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
         "clusters: [{name: c, cluster: {server: 'https://x', certificate-authority-data: '%%%'}}]\n",
         "", "certificate-authority-data is not valid base64"},
        {"current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
         "clusters: [{name: c, cluster: {server: 'https://x'}}]\n",
         "", "user \"u\", which is not in users"},
        {"current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
         "clusters: [{name: c, cluster: {server: 'https://x'}}]\nusers: [{name: u, user: {exec: {command: aws}}}]\n",
         "", "exec/auth-provider"},
        {"current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
         "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
         "users: [{name: u, user: {client-certificate-data: " +
             kCaData + "}}]\n",
         "", "client certificate without a key"},
        {"clusters: [unclosed\n", "", "kubeconfig test:"},
        {"current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\n"
         "clusters: [{name: c, cluster: {server: 'ftp://x'}}]\n",
         "", "is not an http(s):// URL"},
    };
    for (const auto& c : cases) {
        auto r = from_kubeconfig_string(c.yaml, "test", dir_.string(), c.context);
        ASSERT_FALSE(ok(r)) << c.yaml;
        EXPECT_NE(error_of(r).find(c.expect), std::string::npos) << error_of(r);
    }
    EXPECT_NE(error_of(from_kubeconfig((dir_ / "missing").string())).find("cannot read"), std::string::npos);
}

TEST_F(AuthTest, InClusterServiceAccount) {
    InClusterPaths p{(dir_ / "token").string(), (dir_ / "ca.crt").string(), (dir_ / "namespace").string()};
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    EXPECT_NE(error_of(from_in_cluster(p)).find("KUBERNETES_SERVICE_HOST"), std::string::npos);

    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    EXPECT_NE(error_of(from_in_cluster(p)).find("token"), std::string::npos);
    write("token", "sa-token\n");
    EXPECT_NE(error_of(from_in_cluster(p)).find("ca.crt"), std::string::npos);
    write("ca.crt", "CA");
    write("namespace", "enidp-system");
    auto r = from_in_cluster(p);
    ASSERT_TRUE(ok(r)) << error_of(r);
    const auto& s = std::get<ConnectionSettings>(r);
    EXPECT_EQ(s.server, "https://[fd00::1]:443");
    EXPECT_EQ(s.ca_file, p.ca_file);
    EXPECT_EQ(s.token->current(), "sa-token");
    EXPECT_EQ(s.default_namespace, "enidp-system");
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
}

TEST_F(AuthTest, TokenFileIsReReadWhenItChangesOrAfterInvalidate) {
    const std::string f = write("token", "one\n");
    auto t = TokenSource::from_file(f);
    EXPECT_EQ(t->current(), "one");
    // Rotation by rename (new inode), as the kubelet does it.
    write("token.new", "two");
    fs::rename(dir_ / "token.new", f);
    EXPECT_EQ(t->current(), "two");
    // Rewritten in place with the same size: invalidate() (after a 401) forces a read.
    { std::ofstream(f, std::ios::trunc) << "six"; }
    t->invalidate();
    EXPECT_EQ(t->current(), "six");
    // A vanished file keeps the last token and says why.
    fs::remove(f);
    EXPECT_EQ(t->current(), "six");
    EXPECT_NE(t->last_error().find("missing"), std::string::npos);
}

TEST_F(AuthTest, Flags) {
    auto r = from_flags("http://127.0.0.1:8080/", "tok", "", true);
    ASSERT_TRUE(ok(r));
    EXPECT_EQ(std::get<ConnectionSettings>(r).server, "http://127.0.0.1:8080");
    EXPECT_EQ(std::get<ConnectionSettings>(r).token->current(), "tok");
    EXPECT_NE(error_of(from_flags("127.0.0.1:8080", "", "", false)).find("not an http(s)://"), std::string::npos);
    EXPECT_NE(error_of(from_flags("https://x", "", "/nonexistent/ca", false)).find("does not exist"),
              std::string::npos);
    EXPECT_NE(error_of(from_flags("https://x", "@/nonexistent/token", "", false)).find("does not exist"),
              std::string::npos);
}

TEST(Base64, DecodesAndRejects) {
    EXPECT_EQ(std::get<std::string>(base64_decode("aGVsbG8=")), "hello");
    EXPECT_EQ(std::get<std::string>(base64_decode("aGVs\nbG8h")), "hello!");
    EXPECT_FALSE(ok(base64_decode("a$b")));
}

}  // namespace
}  // namespace enidp::k8s

namespace enidp::k8s {
namespace {

TEST(LoadConnection, FlagsThenKubeconfigThenInCluster) {
    const auto dir = std::filesystem::temp_directory_path() / ("enidp-k8s-load-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    const std::string kc = (dir / "config").string();
    std::ofstream(kc) << "current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
                         "clusters: [{name: c, cluster: {server: 'https://from-kubeconfig:6443'}}]\n"
                         "users: [{name: u, user: {token: kc-token}}]\n";
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBECONFIG");

    ConnectionOptions o;
    o.server = "http://127.0.0.1:1";
    o.kubeconfig = kc;
    auto r = load_connection(o);
    ASSERT_TRUE(ok(r));
    EXPECT_EQ(std::get<ConnectionSettings>(r).server, "http://127.0.0.1:1") << "--server wins";

    o.server.clear();
    r = load_connection(o);
    ASSERT_TRUE(ok(r));
    EXPECT_EQ(std::get<ConnectionSettings>(r).server, "https://from-kubeconfig:6443");
    EXPECT_EQ(std::get<ConnectionSettings>(r).token->current(), "kc-token");
    o.token = "override";
    EXPECT_EQ(std::get<ConnectionSettings>(load_connection(o)).token->current(), "override");

    o = {};
    setenv("KUBECONFIG", (kc + ":/other").c_str(), 1);
    r = load_connection(o);
    ASSERT_TRUE(ok(r));
    EXPECT_EQ(std::get<ConnectionSettings>(r).server, "https://from-kubeconfig:6443") << "first $KUBECONFIG file";
    unsetenv("KUBECONFIG");

    r = load_connection(o);
    ASSERT_FALSE(ok(r));
    EXPECT_NE(std::get<Error>(r).message.find("not running in a cluster"), std::string::npos);
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace enidp::k8s
