#include "leader/rendezvous.h"

namespace hb::leader {
namespace {

uint64_t Fnv1a(uint64_t h, std::string_view text) {
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t Mix(uint64_t x) {  // splitmix64's finalizer: every input bit reaches every output bit
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

}  // namespace

uint64_t RendezvousWeight(std::string_view member, std::string_view key) {
  uint64_t h = Fnv1a(14695981039346656037ull, member);
  h = Fnv1a(h ^ 0x1f, key);  // a separator: ("ab","c") and ("a","bc") weigh differently
  return Mix(h);
}

const std::string* RendezvousOwner(std::string_view key, const std::vector<std::string>& members) {
  const std::string* best = nullptr;
  uint64_t best_weight = 0;
  for (const std::string& m : members) {
    uint64_t w = RendezvousWeight(m, key);
    if (best == nullptr || w > best_weight || (w == best_weight && m < *best)) {
      best = &m;
      best_weight = w;
    }
  }
  return best;
}

}  // namespace hb::leader
