/*
 * The permission groups the sandbox knows: the seed data in
 * shared/reference/permission-groups.json, one scope each.  Four ids are
 * placeholders there (both "Logs Write" groups, which model one name at
 * two scopes, and the two Vectorize groups); they are kept as they are.
 */

#include <string.h>

#include "sandbox.h"

const sb_group_t sb_groups[] = {
    {"c8fed203ed3043cba015a93ad1616f1f", "Zone Read", SB_SCOPE_ZONE},
    {"82e64a83756745bbbb1c9c2701bf816b", "DNS Read", SB_SCOPE_ZONE},
    {"4755a26eedb94da69e1066d98aa820be", "DNS Write", SB_SCOPE_ZONE},
    {"e6d2666161e84845a636613608cee8d5", "Zone Write", SB_SCOPE_ZONE},
    {"517b21aee92c4d89936c976ba6e4be55", "Zone Settings Read", SB_SCOPE_ZONE},
    {"3030687196b94b638145a3953da2b699", "Zone Settings Write", SB_SCOPE_ZONE},
    {"e17beae8b8cb423a99b1730f21238bed", "Cache Purge", SB_SCOPE_ZONE},
    {"9c88f9c5bce24ce7af9a958ba9c504db", "Analytics Read", SB_SCOPE_ZONE},
    {"28f4b596e7d643029c524985477ae49a", "Workers Routes Write", SB_SCOPE_ZONE},
    {"7cf72faf220841aabcfdfab81c43c4f6", "Billing Read", SB_SCOPE_ACCOUNT},
    {"9d24387c6e8544e2bc4024a03991339f",
     "Load Balancing: Monitors and Pools Read", SB_SCOPE_ACCOUNT},
    {"d2a1802cc9a34e30852f8b33869b2f3c",
     "Load Balancing: Monitors and Pools Write", SB_SCOPE_ACCOUNT},
    {"8b47d2786a534c08a1f94ee8f9f599ef", "Workers KV Storage Read",
     SB_SCOPE_ACCOUNT},
    {"f7f0eda5697f475c90846e879bab8666", "Workers KV Storage Write",
     SB_SCOPE_ACCOUNT},
    {"1a71c399035b4950a1bd1466bbe4f420", "Workers Scripts Read",
     SB_SCOPE_ACCOUNT},
    {"e086da7e2179491d91ee5f35b3ca210a", "Workers Scripts Write",
     SB_SCOPE_ACCOUNT},
    {"c1fde68c7bcc44588cbb6ddbc16d6480", "Account Settings Read",
     SB_SCOPE_ACCOUNT},
    {"1af1fa2adc104452b74a9a3364202f20", "Account Settings Write",
     SB_SCOPE_ACCOUNT},
    {"eb56a6953c034b9d97dd838155666f06", "Account API Tokens Read",
     SB_SCOPE_ACCOUNT},
    {"5bc3f8b21c554832afc660159ab75fa4", "Account API Tokens Write",
     SB_SCOPE_ACCOUNT},
    {"b89a480218d04ceb98b4fe57ca29dc1f", "Account Analytics Read",
     SB_SCOPE_ACCOUNT},
    {"192192df92ee43ac90f2aeeffce67e35", "D1 Read", SB_SCOPE_ACCOUNT},
    {"09b2857d1c31407795e75e3fed8617a1", "D1 Write", SB_SCOPE_ACCOUNT},
    {"b4992e1108244f5d8bfbd5744320c2e1", "Workers R2 Storage Read",
     SB_SCOPE_ACCOUNT},
    {"bf7481a1826f439697cb59a20b22293e", "Workers R2 Storage Write",
     SB_SCOPE_ACCOUNT},
    {"6a018a9f2fc74eb6b293b0c548f38b39", "Workers R2 Storage Bucket Item Read",
     SB_SCOPE_R2},
    {"2efd5506f9c8494dacb1fa10a3e7d5b6", "Workers R2 Storage Bucket Item Write",
     SB_SCOPE_R2},
    {"a92d2450e05d4e7bb7d0a64968f83d11", "Workers AI Read", SB_SCOPE_ACCOUNT},
    {"bacc64e0f6c34fc0883a1223f938a104", "Workers AI Write", SB_SCOPE_ACCOUNT},
    {"4dc8917b4b40457d88d3035d5dadb054", "AI Gateway Read", SB_SCOPE_ACCOUNT},
    {"644535f4ed854494a59cb289d634b257", "AI Gateway Run", SB_SCOPE_ACCOUNT},
    {"6c8a3737f07f46369c1ea1f22138daaf", "AI Gateway Write", SB_SCOPE_ACCOUNT},
    {"84a7755d54c646ca87cd50682a34bf7c", "Queues Read", SB_SCOPE_ACCOUNT},
    {"366f57075ffc42689627bcf8242a1b6d", "Queues Write", SB_SCOPE_ACCOUNT},
    {"8d28297797f24fb8a0c332fe0866ec89", "Pages Write", SB_SCOPE_ACCOUNT},
    {"05880cd1bdc24d8bae0be2136972816b", "Workers Tail Read", SB_SCOPE_ACCOUNT},
    {"bfe0d8686a584fa680f4c53b5eb0de6d",
     "Access: Organizations, Identity Providers, and Groups Write",
     SB_SCOPE_ACCOUNT},
    {"96163bd1b0784f62b3e44ed8c2ab1eb6", "Logs Write", SB_SCOPE_ZONE},
    {"9cc17e5ab58a4e5ea1ec4cbc7ba9ea25", "Logs Write", SB_SCOPE_ACCOUNT},
    {"0cc3a61731504c89b99ec1be78b77aa0", "API Tokens Read", SB_SCOPE_USER},
    {"686d18d5ac6c441c867cbf6771e58a0a", "API Tokens Write", SB_SCOPE_USER},
    {"8acbe5bb0d54464ab867149d7f7cf8ac", "User Details Read", SB_SCOPE_USER},
    {"55a5e17cc99e4a3fa1f3432d262f2e55", "User Details Write", SB_SCOPE_USER},
    {"9201bc6f42d440968aaab0c6f17ebb1d", "Memberships Write", SB_SCOPE_USER},
    {"0f1e2d3c4b5a69788796a5b4c3d2e1f0", "Vectorize Read", SB_SCOPE_ACCOUNT},
    {"1f2e3d4c5b6a79808796a5b4c3d2e1f1", "Vectorize Write", SB_SCOPE_ACCOUNT},
};

const size_t sb_ngroups = sizeof(sb_groups) / sizeof(sb_groups[0]);

const sb_group_t *
sb_group_find(const char *id)
{
    size_t i;

    for (i = 0; i < sb_ngroups; i++) {
        if (strcmp(sb_groups[i].id, id) == 0) {
            return &sb_groups[i];
        }
    }

    return NULL;
}

const char *
sb_scope_name(sb_scope_e scope)
{
    switch (scope) {
    case SB_SCOPE_USER:
        return "com.cloudflare.api.user";
    case SB_SCOPE_ACCOUNT:
        return "com.cloudflare.api.account";
    case SB_SCOPE_ZONE:
        return "com.cloudflare.api.account.zone";
    case SB_SCOPE_R2:
        return "com.cloudflare.edge.r2.bucket";
    default:
        return "none";
    }
}
