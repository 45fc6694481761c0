#include "lb/fastpath/affinity.hpp"

#include <rte_errno.h>
#include <rte_hash_crc.h>

namespace enidp::lb {

namespace {
uint32_t aff_hash(const void* key, uint32_t len, uint32_t init) { return rte_hash_crc(key, len, init); }
}  // namespace

std::unique_ptr<Affinity> Affinity::create(const std::string& name, uint32_t entries, int socket, rte_rcu_qsbr* qsbr,
                                           std::string& err) {
    std::unique_ptr<Affinity> a(new Affinity());
    rte_hash_parameters hp{};
    hp.name = name.c_str();
    hp.entries = entries < 64 ? 64 : entries;
    hp.key_len = sizeof(uint64_t);
    hp.hash_func = aff_hash;
    hp.socket_id = socket;
    hp.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_MULTI_WRITER_ADD |
                    RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
    a->h_ = rte_hash_create(&hp);
    if (a->h_ == nullptr) {
        err = "session affinity table: " + std::string(rte_strerror(rte_errno));
        return nullptr;
    }
    rte_hash_rcu_config rc{};
    rc.v = qsbr;
    rc.mode = RTE_HASH_QSBR_MODE_DQ;
    if (rte_hash_rcu_qsbr_add(a->h_, &rc) != 0) {
        err = "session affinity table RCU: " + std::string(rte_strerror(rte_errno));
        return nullptr;
    }
    return a;
}

Affinity::~Affinity() {
    if (h_ != nullptr) rte_hash_free(h_);
}

}  // namespace enidp::lb
