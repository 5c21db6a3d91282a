// Rendezvous (highest-random-weight) hashing: each key belongs to the member with the
// highest weight(member, key). A member joining takes only the keys it now outweighs; a
// member leaving gives up only its own keys, each to the member ranked next for it. The
// weight is a stable 64-bit hash (FNV-1a, then a splitmix64 finalizer), the same on every
// replica and across restarts. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hb::leader {

uint64_t RendezvousWeight(std::string_view member, std::string_view key);

// The member that owns `key` among `members`; nullptr when there is none. Equal weights
// (no seen case) go to the smaller name, so every replica agrees.
const std::string* RendezvousOwner(std::string_view key, const std::vector<std::string>& members);

}  // namespace hb::leader
